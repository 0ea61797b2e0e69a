import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ComposeProject, ktl, REPO_ROOT, run } from "./compose.js";

/**
 * The CI chaos suite: the compose cluster with its chaos controller (docker-compose.yml's `chaos` service),
 * every named experiment once, then RandomKill for two minutes. It fails on any broken invariant
 * (desired replicas, objects lost, duplicate pods, etcd agreement, acknowledged writes lost) and
 * prints every figure; the timing targets are printed beside their figures (TargetMet), as a
 * benchmark prints its targets, since a shared CI machine's speed is no property of the code.
 */

const SERVICES = [
  "etcd-0",
  "etcd-1",
  "etcd-2",
  "apiserver-0",
  "apiserver-1",
  "scheduler-0",
  "scheduler-1",
  "controller-manager-0",
  "controller-manager-1",
  "node-1",
  "node-2",
  "node-3",
  "kube-proxy-1",
  "kube-proxy-2",
  "kube-proxy-3",
  "chaos",
];
const BUILD_TIMEOUT_MS = 15 * 60_000;
const HEALTHY_TIMEOUT_MS = 4 * 60_000;

/** The named experiments, with windows sized for the fast profile. */
const NAMED: { name: string; action: string; spec?: Record<string, number> }[] = [
  { name: "pod-kill", action: "PodKill", spec: { durationSeconds: 15 } },
  { name: "kubelet-kill", action: "KubeletKill", spec: { downSeconds: 20, durationSeconds: 35 } },
  { name: "node-kill", action: "NodeKill", spec: { downSeconds: 20, durationSeconds: 35 } },
  { name: "node-pause", action: "NodePause", spec: { downSeconds: 20, durationSeconds: 35 } },
  { name: "scheduler-leader-kill", action: "SchedulerLeaderKill", spec: { durationSeconds: 15 } },
  {
    name: "controller-manager-leader-kill",
    action: "ControllerManagerLeaderKill",
    spec: { durationSeconds: 15 },
  },
  { name: "apiserver-kill", action: "ApiserverKill", spec: { durationSeconds: 20 } },
  { name: "etcd-member-kill", action: "EtcdMemberKill", spec: { durationSeconds: 20 } },
  { name: "etcd-leader-kill", action: "EtcdLeaderKill", spec: { durationSeconds: 20 } },
];
/** The invariants the suite holds the cluster to; TargetMet is a timing target, printed. */
const TIMING = "TargetMet";

interface Status {
  phase?: string;
  reason?: string;
  message?: string;
  verdict?: string;
  figures?: { detectionSeconds?: number; recoverySeconds?: number; target?: number };
  requests?: { total?: number; succeeded?: number; successRatio?: number; p50Ms?: number; p99Ms?: number };
  writes?: { acknowledged?: number; lost?: number; rejected?: number };
  invariants?: { name: string; ok?: boolean; message?: string }[];
  kills?: { time: string; action: string; target: string; recoverySeconds?: number }[];
}

const figures: string[] = [];

/** Part of every e2e run; TSKUBE_CHAOS_E2E=0 leaves it out (it takes about 17 minutes). */
const CHAOS_E2E = process.env.TSKUBE_CHAOS_E2E !== "0";

describe.skipIf(!CHAOS_E2E)("chaos experiments against the compose cluster", () => {
  const project = new ComposeProject();
  const tag = `chaos-e2e-${process.pid}`;
  let failed = false;
  const servers = () =>
    `127.0.0.1:${project.ports.TSKUBE_APISERVER_0_PORT},127.0.0.1:${project.ports.TSKUBE_APISERVER_1_PORT}`;

  beforeAll(
    async () => {
      await project.allocatePorts();
      project.ports.TSKUBE_TAG = tag;
      project.ports.TSKUBE_LOAD_BALANCER_IP_POOL = project.ports.TSKUBE_NETWORK_SUBNET!.replace(
        /\.0\.0\/16$/,
        ".64.0/24",
      );
      // An image of this test's own, built from a bundle in a context of its own: other runs on the
      // machine rebuilding dist/image or tskube/tskube:dev cannot change what this cluster runs.
      const context = mkdtempSync(join(tmpdir(), "tskube-chaos-image-"));
      try {
        const bundled = await run(join(REPO_ROOT, "node_modules/.bin/tsx"), [
          "scripts/bundle-image.ts",
          "--outdir",
          join(context, "dist/image"),
        ]);
        expect(bundled.code, bundled.stderr).toBe(0);
        writeFileSync(join(context, "Dockerfile"), readFileSync(join(REPO_ROOT, "docker/tskube.Dockerfile")));
        const nodeImage = /^NODE_IMAGE=(.+)$/m.exec(safeRead(join(REPO_ROOT, ".env")))?.[1]?.trim();
        const built = await run(
          "docker",
          [
            "build",
            "-q",
            "--build-arg",
            "TSKUBE_BUNDLE=host",
            ...(nodeImage ? ["--build-arg", `NODE_IMAGE=${nodeImage}`] : []),
            "-t",
            `tskube/tskube:${tag}`,
            context,
          ],
          { timeoutMs: BUILD_TIMEOUT_MS },
        );
        expect(built.code, built.stderr).toBe(0);
      } finally {
        rmSync(context, { recursive: true, force: true });
      }
      try {
        await project.mustRun(["up", "-d"], BUILD_TIMEOUT_MS);
        await project.waitHealthy(SERVICES, HEALTHY_TIMEOUT_MS);
      } catch (err) {
        failed = true;
        throw err;
      }
    },
    BUILD_TIMEOUT_MS * 2 + HEALTHY_TIMEOUT_MS,
  );

  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail") failed = true;
  });

  afterAll(async () => {
    console.log(`\nchaos figures (fast profile):\n${figures.join("\n")}`);
    // Why workload requests failed, by experiment (the chaos controller logs it for each one).
    const logs = await project.run(["logs", "--no-color", "chaos"]);
    const reasons = logs.stdout.split("\n").filter((l) => l.includes('"msg":"failed requests"'));
    if (reasons.length) console.log(`failed workload requests:\n${reasons.join("\n")}`);
    await project.tearDown({ failed, tail: 60, logServices: ["chaos"] });
    await run("docker", ["rmi", `tskube/tskube:${tag}`]);
  }, 400_000);

  async function experiment(
    name: string,
    action: string,
    spec: Record<string, number>,
    timeoutMs: number,
  ): Promise<Status> {
    const fields = Object.entries(spec).map(([k, v]) => `  ${k}: ${v}`);
    const manifest = join(mkdtempSync(join(tmpdir(), "tskube-exp-")), `${name}.yaml`);
    writeFileSync(
      manifest,
      [
        "apiVersion: chaos.tskube.io/v1alpha1",
        "kind: Experiment",
        `metadata: {name: ${name}}`,
        "spec:",
        `  action: ${action}`,
        ...fields,
        "",
      ].join("\n"),
    );
    const applied = await ktl(servers(), ["apply", "-f", manifest]);
    expect(applied.code, applied.stderr).toBe(0);
    const deadline = Date.now() + timeoutMs;
    let status: Status = {};
    while (Date.now() < deadline) {
      const r = await ktl(servers(), ["get", "experiment", name, "-o", "json"]);
      if (r.code === 0) status = (JSON.parse(r.stdout) as { status?: Status }).status ?? {};
      if (status.phase === "Succeeded" || status.phase === "Failed") break;
      await new Promise((res) => setTimeout(res, 2000));
    }
    const described = await ktl(servers(), ["describe", "experiment", name]);
    console.log(described.stdout);
    const f = status.figures ?? {};
    const q = status.requests ?? {};
    figures.push(
      [
        `${action.padEnd(28)} recovery ${f.recoverySeconds ?? "-"}s (target ${f.target || "-"}), detection ${f.detectionSeconds ?? "-"}s`,
        `requests ${q.succeeded ?? 0}/${q.total ?? 0} (${((q.successRatio ?? 0) * 100).toFixed(2)}%) p50 ${q.p50Ms ?? 0}ms p99 ${q.p99Ms ?? 0}ms`,
        status.writes
          ? `writes ack ${status.writes.acknowledged ?? 0} lost ${status.writes.lost ?? 0} rejected ${status.writes.rejected ?? 0}`
          : "",
        `verdict ${status.verdict}`,
        ...(status.invariants ?? [])
          .filter((i) => i.name === TIMING)
          .map((i) => `${i.ok ? "met" : "MISSED"}: ${i.message}`),
      ]
        .filter(Boolean)
        .join("; "),
    );
    for (const k of status.kills ?? [])
      figures.push(`  ${k.time} ${k.action} ${k.target} recovery ${k.recoverySeconds ?? "-"}s`);
    return status;
  }

  function expectInvariants(status: Status): void {
    expect(status.phase, `${status.reason}: ${status.message}`).toMatch(/^(Succeeded|Failed)$/);
    const held = (status.invariants ?? []).filter((i) => i.name !== TIMING);
    for (const name of ["DesiredReplicas", "NoObjectLost", "NoDuplicatePods", "EtcdMembersAgree"])
      expect(held.map((i) => i.name)).toContain(name);
    for (const i of held)
      expect({ name: i.name, ok: Boolean(i.ok), message: i.message }).toEqual({
        name: i.name,
        ok: true,
        message: i.message,
      });
  }

  for (const e of NAMED) {
    it(
      `${e.action} keeps every invariant`,
      async () => {
        const status = await experiment(e.name, e.action, e.spec ?? {}, 5 * 60_000);
        expectInvariants(status);
        if (e.action.startsWith("Etcd") || e.action === "ApiserverKill") {
          expect(status.writes?.acknowledged ?? 0).toBeGreaterThan(0);
          expect(status.invariants?.map((i) => i.name)).toContain("NoAcknowledgedWriteLost");
        }
      },
      6 * 60_000,
    );
  }

  it(
    "RandomKill for two minutes keeps every invariant",
    async () => {
      const status = await experiment(
        "random-kill",
        "RandomKill",
        { intervalSeconds: 10, totalSeconds: 120, durationSeconds: 20 },
        10 * 60_000,
      );
      expectInvariants(status);
      expect((status.kills ?? []).length).toBeGreaterThan(0);
      expect(status.invariants?.map((i) => i.name)).toContain("NoAcknowledgedWriteLost");
    },
    11 * 60_000,
  );
});

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
