import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ComposeProject, ktl, ktlStdin, REPO_ROOT, run } from "./compose.js";

/** The image pods use: what `pnpm images:offline` put in .env, else the public busybox. */
function sandboxImage(): string {
  try {
    const m = /^SANDBOX_IMAGE=(.+)$/m.exec(readFileSync(join(REPO_ROOT, ".env"), "utf8"));
    if (m) return m[1]!.trim();
  } catch {
    // no .env: a machine with a registry
  }
  return "busybox:1.36";
}

const FIXTURE = join(REPO_ROOT, "test/e2e/fixtures/nginx.yaml");
const SERVICES = [
  "etcd-0",
  "etcd-1",
  "etcd-2",
  "apiserver-0",
  "apiserver-1",
  "scheduler-0",
  "scheduler-1",
  "node-1",
  "node-2",
  "node-3",
];

// Building the image on 2 cores and a 3-member etcd electing a leader take minutes, not seconds.
const BUILD_TIMEOUT_MS = 20 * 60_000;
const HEALTHY_TIMEOUT_MS = 3 * 60_000;

interface Manifest {
  metadata: { name: string; uid: string; resourceVersion: string; namespace?: string };
  spec: Record<string, unknown>;
}

describe("docker compose cluster", () => {
  const project = new ComposeProject();
  let failed = false;
  const server = (i: 0 | 1) => `127.0.0.1:${project.ports[`TSKUBE_APISERVER_${i}_PORT`]}`;

  beforeAll(async () => {
    await project.allocatePorts();
    // The image copies host-built bundles when TSKUBE_BUNDLE=host (pnpm images:offline); rebuilding
    // them first means the cluster runs the code under test, never a stale bundle.
    const bundled = await run(join(REPO_ROOT, "node_modules/.bin/tsx"), ["scripts/bundle-image.ts"]);
    expect(bundled.code, bundled.stderr).toBe(0);
    try {
      await project.mustRun(["up", "-d", "--build"], BUILD_TIMEOUT_MS);
      await project.waitHealthy(SERVICES, HEALTHY_TIMEOUT_MS);
    } catch (err) {
      failed = true;
      throw err;
    }
  }, BUILD_TIMEOUT_MS + HEALTHY_TIMEOUT_MS);

  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail") failed = true;
  });

  afterAll(async () => {
    const down = await project.tearDown({ failed, tail: 100 });
    expect(down.code, down.stderr).toBe(0);
  }, 200_000);

  it("applies a Deployment and a Service through apiserver-0", async () => {
    const r = await ktl(server(0), ["apply", "-f", FIXTURE]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n").sort()).toEqual([
      "deployment.apps/nginx created",
      "service/nginx created",
    ]);
  });

  it("both apiservers serve the same objects from the shared etcd", async () => {
    const seen: Record<string, Manifest[]> = { deployment: [], service: [] };
    for (const i of [0, 1] as const) {
      for (const kind of ["deployment", "service"]) {
        const r = await ktl(server(i), ["get", kind, "nginx", "-o", "yaml"]);
        expect(r.code, `${kind} via apiserver-${i}: ${r.stderr}`).toBe(0);
        seen[kind]!.push(parse(r.stdout) as Manifest);
      }
    }
    for (const [kind, [viaFirst, viaSecond]] of Object.entries(seen)) {
      expect(viaFirst!.metadata.name, kind).toBe("nginx");
      expect(viaFirst!.metadata.uid, kind).toMatch(/^[0-9a-f-]{36}$/);
      expect(viaSecond!.metadata.uid, kind).toBe(viaFirst!.metadata.uid);
      expect(viaSecond!.metadata.resourceVersion, kind).toBe(viaFirst!.metadata.resourceVersion);
    }
    expect(seen.deployment![0]!.spec.replicas).toBe(2);
    expect(seen.service![0]!.spec.selector).toEqual({ app: "nginx" });

    const table = await ktl(server(1), ["get", "deploy,svc"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^deployment\.apps\/nginx\s+0\/2\s/m);
    expect(table.stdout).toMatch(/^service\/nginx\s+ClusterIP\s/m);
  });

  it("publishes the apiservers' host ports on 127.0.0.1 only", async () => {
    // No authentication yet and the nodes hold the host's Docker socket: the API must not be
    // reachable from other machines unless TSKUBE_BIND_ADDRESS asks for it.
    for (const [service, port] of [
      ["apiserver-0", 6443],
      ["apiserver-0", 8080],
      ["apiserver-1", 6443],
      ["apiserver-1", 8080],
    ] as const) {
      const out = await project.mustRun(["port", service, String(port)]);
      expect(out.trim().split("\n"), `${service}:${port}`).toEqual([
        expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      ]);
    }
  });

  it("runs the classic first pod as a container on one of the three nodes", async () => {
    const nodes = await ktl(server(0), ["get", "nodes"]);
    for (const n of ["node-1", "node-2", "node-3"])
      expect(nodes.stdout).toMatch(new RegExp(`^${n}\\s+Ready\\s`, "m"));
    const image = sandboxImage();
    const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: hello
spec:
  restartPolicy: Never
  containers:
  - name: hello
    image: ${image}
    # The offline image is tagged :latest (imagePullPolicy Always by default) and there is no registry.
    imagePullPolicy: IfNotPresent
    command: ["echo"]
    args: ["Hello World!"]
`;
    const applied = await ktlStdin(server(0), ["apply", "-f", "-"], manifest);
    expect(applied.code, applied.stderr).toBe(0);
    const deadline = Date.now() + 120_000;
    let table = "";
    while (Date.now() < deadline) {
      table = (await ktl(server(0), ["get", "pod", "hello", "-o", "wide"])).stdout;
      if (/\sCompleted\s/.test(table)) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    expect(table).toMatch(/^hello\s+0\/1\s+Completed\s+0\s+\S+\s+\d+\.\d+\.\d+\.\d+\s+node-[123]\s/m);
    const logs = await ktl(server(1), ["logs", "hello"]);
    expect(logs.stdout).toBe("Hello World!\n");
  });

  it("the elected scheduler binds a pod to a node", async () => {
    const r = await ktl(server(0), [
      "apply",
      "-f",
      join(REPO_ROOT, "test/e2e/fixtures/hollow-node-and-pod.yaml"),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const deadline = Date.now() + 60_000;
    let wide = "";
    while (Date.now() < deadline) {
      wide = (await ktl(server(0), ["get", "pod", "scheduled", "-o", "wide"])).stdout;
      if (/\shollow-1\s/.test(wide)) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    expect(wide).toMatch(/^scheduled\s+0\/1\s+Pending\s+0\s+\S+\s+<none>\s+hollow-1\s/m);
    const lease = await ktl(server(1), ["get", "lease", "kube-scheduler", "-n", "kube-system"]);
    expect(lease.stdout).toMatch(/^kube-scheduler\s+scheduler-[01]_[0-9a-f-]{36}\s/m);
  });

  it("ktl fails over when its first apiserver is gone", async () => {
    await project.mustRun(["stop", "apiserver-0"]);
    const r = await ktl(`${server(0)},${server(1)}`, ["get", "deployment", "nginx"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^nginx\s+0\/2\s/m);
  });
});
