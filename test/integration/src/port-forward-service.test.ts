import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Deployment, KINDS, type Pod, Service } from "@tskube/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import {
  type ComponentHandle,
  freePort,
  REPO_ROOT,
  startComponent,
  startControllerManager,
  waitFor,
} from "./harness.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;

/** An HTTP server answering with its pod's name on the container port named "http". */
const server =
  "require('http').createServer((q, r) => r.end(process.env.POD_NAME)).listen(8080, process.env.TSKUBE_POD_IP)";

/**
 * `ktl port-forward svc/NAME` and `deployment/NAME` against pods run by a kubelet with the process
 * runtime: the Service's port is forwarded to the pod's named target port.
 */
describe("ktl port-forward to a Service or a workload", () => {
  const c = useCluster();
  const procs: ComponentHandle[] = [];
  const forwards: ChildProcess[] = [];

  beforeAll(async () => {
    const servers = c.servers.join(",");
    procs.push(await startComponent("scheduler", ["--server", servers, "--leader-elect", "false"]));
    procs.push(await startControllerManager(c.servers, "cm-pf", ["--controllers", "deployment,replicaset"]));
    procs.push(
      await startComponent("kubelet", [
        "--port",
        String(await freePort()),
        "--server",
        servers,
        "--node-name",
        "node-pf",
        "--pod-cidr",
        "127.43.0.0/16",
        "--root-dir",
        mkdtempSync(join(tmpdir(), "tskube-kubelet-pf-")),
        "--pleg-relist-period",
        "200ms",
      ]),
    );
  });
  afterAll(async () => {
    for (const f of forwards) f.kill("SIGINT");
    // The process runtime leaves containers running when its kubelet stops (a restart adopts
    // them), so the pods go first.
    const deployments = c.client.resource<Deployment>(kind("Deployment") as never);
    const d = await deployments.get("echo", { namespace: "default" }).catch(() => undefined);
    if (d) await deployments.update({ ...d, spec: { ...d.spec!, replicas: 0 } });
    const pods = c.client.resource<Pod>(kind("Pod") as never);
    await waitFor(
      "echo pods gone",
      async () => (await pods.list({ namespace: "default", labelSelector: "app=echo" })).items.length === 0,
      60_000,
    ).catch(() => undefined);
    for (const p of procs.reverse()) await p.stop();
  });

  /** Starts ktl port-forward and resolves with the local port and the remote it reported. */
  const forward = (args: string[]) => {
    const fwd = spawn(
      process.execPath,
      ["--import", "tsx", join(REPO_ROOT, "apps/ktl/src/main.ts"), "port-forward", ...args],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, TSKUBE_SERVER: c.servers.join(",") },
      },
    );
    forwards.push(fwd);
    return new Promise<{ local: number; remote: number }>((resolve, reject) => {
      let out = "";
      let err = "";
      fwd.stdout!.on("data", (d) => {
        out += d;
        const m = /Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)/.exec(out);
        if (m) resolve({ local: Number(m[1]), remote: Number(m[2]) });
      });
      fwd.stderr!.on("data", (d) => {
        err += d;
      });
      fwd.once("exit", (code) => reject(new Error(`port-forward exited with ${code}: ${err}`)));
    });
  };

  it("forwards svc/NAME's port to a running pod's named target port, and deployment/NAME to one of its pods", async () => {
    await c.client.resource<Deployment>(kind("Deployment") as never).create(
      Deployment.fromPartial({
        metadata: { name: "echo", namespace: "default" },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "echo" } },
          template: {
            metadata: { labels: { app: "echo" } },
            spec: {
              terminationGracePeriodSeconds: 2,
              containers: [
                {
                  name: "echo",
                  image: "busybox:1.36",
                  command: [process.execPath, "-e", server],
                  env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
                  ports: [{ name: "http", containerPort: 8080 }],
                  readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 1 },
                },
              ],
            },
          },
        },
      }),
    );
    await c.client.resource<Service>(kind("Service") as never).create(
      Service.fromPartial({
        metadata: { name: "echo", namespace: "default" },
        spec: { selector: { app: "echo" }, ports: [{ name: "web", port: 80, targetPort: "http" }] },
      }),
    );
    const pods = c.client.resource<Pod>(kind("Pod") as never);
    await waitFor(
      "two ready echo pods",
      async () =>
        (await pods.list({ namespace: "default", labelSelector: "app=echo" })).items.filter((p) =>
          p.status?.conditions.some((x) => x.type === "Ready" && x.status === "True"),
        ).length === 2,
      60_000,
    );
    const names = (await pods.list({ namespace: "default", labelSelector: "app=echo" })).items.map(
      (p) => p.metadata!.name,
    );

    const viaService = await forward(["svc/echo", "0:80"]);
    expect(viaService.remote).toBe(8080);
    const answer = await (await fetch(`http://127.0.0.1:${viaService.local}/`)).text();
    expect(names).toContain(answer);

    // The service port by name, as kubectl takes it.
    const byName = await forward(["service/echo", "0:web"]);
    expect(byName.remote).toBe(8080);
    expect(names).toContain(await (await fetch(`http://127.0.0.1:${byName.local}/`)).text());

    const viaDeployment = await forward(["deployment/echo", "0:http"]);
    expect(viaDeployment.remote).toBe(8080);
    expect(names).toContain(await (await fetch(`http://127.0.0.1:${viaDeployment.local}/`)).text());
  }, 120_000);

  it("names a Service port that does not exist", async () => {
    await expect(forward(["svc/echo", "0:81"])).rejects.toThrow(
      "Service echo does not have a service port 81",
    );
  });
});
