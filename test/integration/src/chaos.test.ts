import { type ChildProcess, spawn } from "node:child_process";
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Experiment } from "@tskube/api";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProcessExecutor } from "../../../apps/chaos/src/executors/process.js";
import { useCluster } from "./cluster.js";
import { freePort, REPO_ROOT, waitFor } from "./harness.js";

/**
 * local-up in miniature: the components a PodKill and a KubeletKill touch, run as processes that
 * come back after a crash unless a hold file names them, with local-up's state file (pids, hold
 * directory, kubelet root) for the chaos controller's process executor. The fast profile is
 * local-up's.
 */
class Supervisor {
  readonly dir = mkdtempSync(join(tmpdir(), "tskube-chaos-"));
  readonly stateFile = join(this.dir, "local-up.json");
  readonly holdDir = join(this.dir, "local-up-hold");
  readonly kubeletRootDir = join(this.dir, "kubelet");
  private readonly children = new Map<string, ChildProcess>();
  private readonly state;
  private stopping = false;

  constructor(etcd: string) {
    this.state = {
      pid: process.pid,
      components: {} as Record<string, { pid: number; startedAt: string }>,
      holdDir: this.holdDir,
      kubeletRootDir: this.kubeletRootDir,
      etcdEndpoints: { etcd },
    };
    mkdirSync(this.holdDir, { recursive: true });
  }

  start(name: string, app: string, args: string[]): void {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(REPO_ROOT, `apps/${app}/src/main.ts`), ...args],
      {
        cwd: REPO_ROOT,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
        env: { ...process.env, LOG_LEVEL: "info" },
      },
    );
    const log = createWriteStream(join(this.dir, `${name}.log`), { flags: "a" });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.children.set(name, child);
    this.state.components[name] = { pid: child.pid ?? 0, startedAt: new Date().toISOString() };
    writeFileSync(`${this.stateFile}.tmp`, JSON.stringify(this.state));
    renameSync(`${this.stateFile}.tmp`, this.stateFile);
    child.once("exit", () => {
      if (this.stopping) return;
      const restart = () => {
        if (this.stopping) return;
        if (existsSync(join(this.holdDir, name))) setTimeout(restart, 250);
        else this.start(name, app, args);
      };
      setTimeout(restart, 500);
    });
  }

  log(name: string): string {
    return join(this.dir, `${name}.log`);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.children.values()].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.kill("SIGTERM");
            setTimeout(() => c.kill("SIGKILL"), 10_000).unref();
          }),
      ),
    );
  }
}

const LEASES = [
  "--leader-elect-lease-duration=4s",
  "--leader-elect-renew-deadline=3s",
  "--leader-elect-retry-period=1s",
];

interface Outcome {
  status: NonNullable<Experiment["status"]>;
}

function print(name: string, { status: s }: Outcome): void {
  const lines = [
    `${name}: ${s.phase} (${s.verdict}) ${s.reason}: ${s.message}`,
    `  figures: detection ${s.figures?.detectionSeconds ?? "-"}s, recovery ${s.figures?.recoverySeconds ?? "-"}s, target ${s.figures?.target ?? "-"}s`,
    `  requests: ${s.requests?.succeeded}/${s.requests?.total} ok (${((s.requests?.successRatio ?? 0) * 100).toFixed(2)}%), p50 ${s.requests?.p50Ms}ms p99 ${s.requests?.p99Ms}ms`,
    ...s.timeline.map((e) => `  ${e.offsetSeconds.toFixed(3).padStart(8)}s ${e.event} ${e.detail}`),
    ...s.invariants.map((i) => `  ${i.ok ? "ok  " : "FAIL"} ${i.name}: ${i.message}`),
  ];
  console.log(lines.join("\n"));
}

describe("chaos experiments through the process executor", () => {
  const cluster = useCluster({
    apiserverArgs: ["--default-not-ready-toleration-seconds=5", "--default-unreachable-toleration-seconds=5"],
  });
  let sup: Supervisor;

  beforeAll(async () => {
    sup = new Supervisor(cluster.etcd.endpoint);
    passed = false;
    const server = cluster.servers.join(",");
    const health: string[] = [];
    const http = async () => {
      const port = await freePort();
      health.push(`http://127.0.0.1:${port}/healthz`);
      return `127.0.0.1:${port}`;
    };
    sup.start("scheduler-0", "scheduler", [
      "--server",
      server,
      "--id",
      "scheduler-0",
      "--http-address",
      await http(),
      ...LEASES,
    ]);
    sup.start("controller-manager-0", "controller-manager", [
      "--server",
      server,
      "--id",
      "controller-manager-0",
      "--http-address",
      await http(),
      ...LEASES,
      "--node-monitor-grace-period=8s",
      "--node-monitor-period=1s",
      "--node-eviction-rate=1",
    ]);
    for (const i of [1, 2]) {
      sup.start(`kubelet-${i}`, "kubelet", [
        "--server",
        server,
        "--node-name",
        `node-${i}`,
        "--node-lease-renew-interval=2s",
        "--node-status-update-frequency=2s",
        "--node-lease-duration-seconds=8",
        "--pod-cidr",
        `127.${200 + i}.0.0/16`,
        "--process-isolation",
        "none",
        "--port",
        String(await freePort()),
        "--http-address",
        await http(),
        "--root-dir",
        sup.kubeletRootDir,
      ]);
    }
    const proxyPort = await freePort();
    sup.start("kube-proxy-1", "kube-proxy", [
      "--server",
      server,
      "--proxy-mode",
      "userspace",
      "--hostname-override",
      "node-1",
      "--nodeport-addresses",
      "127.0.0.1/32",
      "--http-address",
      `127.0.0.1:${proxyPort}`,
    ]);
    health.push(`http://127.0.0.1:${proxyPort}/healthz`);
    const chaosHttp = `127.0.0.1:${await freePort()}`;
    for (const url of health)
      await waitFor(`${url} (logs in ${sup.dir})`, async () => (await fetch(url)).ok, 60_000);
    // The chaos controller itself is not supervised: a restart would mark its experiment Interrupted.
    const chaos = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(REPO_ROOT, "apps/chaos/src/main.ts"),
        "--server",
        server,
        "--executor",
        "process",
        "--local-up-state",
        sup.stateFile,
        "--http-address",
        chaosHttp,
        "--settle-timeout",
        "60s",
      ],
      { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOG_LEVEL: "info" } },
    );
    const log = createWriteStream(sup.log("chaos"));
    chaos.stdout?.pipe(log);
    chaos.stderr?.pipe(log);
    chaosProc = chaos;
    await waitFor(
      `chaos (log ${sup.log("chaos")})`,
      async () => (await fetch(`http://${chaosHttp}/readyz`)).ok,
      60_000,
    );
    passed = true;
  }, 180_000);

  let chaosProc: ChildProcess | undefined;

  afterAll(async () => {
    chaosProc?.kill("SIGTERM");
    await sup?.stop();
    // Pods of the process runtime outlive their kubelet (as containers do): end them too.
    const ex = new ProcessExecutor(sup.stateFile);
    for (const n of ["node-1", "node-2"]) await ex.killPods(n).catch(() => undefined);
    if (passed) rmSync(sup.dir, { recursive: true, force: true });
    else console.log(`component logs kept in ${sup.dir}`);
  }, 60_000);
  let passed = true;
  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail") passed = false;
  });

  async function runExperiment(
    name: string,
    spec: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<Outcome> {
    const experiments = cluster.client.resource<Experiment>("experiments");
    await experiments.create(
      Experiment.fromPartial({
        apiVersion: "chaos.tskube.io/v1alpha1",
        kind: "Experiment",
        metadata: { name, namespace: "default" },
        spec,
      }),
    );
    let last: Experiment | undefined;
    await waitFor(
      `experiment ${name} to finish (chaos log ${sup.log("chaos")})`,
      async () => {
        last = await experiments.get(name, { namespace: "default" });
        return last.status?.phase === "Succeeded" || last.status?.phase === "Failed";
      },
      timeoutMs,
    );
    const outcome = { status: last!.status! };
    print(name, outcome);
    return outcome;
  }

  /** Invariants other than the timing target: those must hold on any machine. */
  const held = (o: Outcome) =>
    o.status.invariants
      .filter((i) => i.name !== "TargetMet")
      .map((i) => ({ name: i.name, ok: i.ok, message: i.message }));

  it("PodKill: the container is SIGKILLed, the kubelet restarts it, every invariant holds", async () => {
    const o = await runExperiment("pod-kill", { action: "PodKill", durationSeconds: 10 }, 150_000);
    const events = o.status.timeline.map((e) => e.event);
    expect(events).toContain("Kill");
    expect(events).toContain("ContainerRestarted");
    expect(o.status.figures?.recoverySeconds).toBeGreaterThan(0);
    expect(o.status.figures?.target).toBe(2);
    expect(o.status.requests?.total).toBeGreaterThan(0);
    const names = held(o).map((i) => i.name);
    expect(names).toEqual(["DesiredReplicas", "NoObjectLost", "NoDuplicatePods", "EtcdMembersAgree"]);
    for (const i of held(o)) expect(i, i.message).toMatchObject({ ok: true });
    expect(o.status.invariants.map((i) => i.name)).toContain("TargetMet");
  }, 160_000);

  it("KubeletKill: the node goes NotReady while its kubelet is held down, its pods are replaced, it comes back", async () => {
    const o = await runExperiment(
      "kubelet-kill",
      { action: "KubeletKill", downSeconds: 20, durationSeconds: 40 },
      200_000,
    );
    const events = o.status.timeline.map((e) => e.event);
    for (const e of [
      "Kill",
      "NodeNotReady",
      "ReplacementScheduled",
      "ReplacementReady",
      "Restored",
      "NodeReady",
    ])
      expect(events, `timeline has ${e}`).toContain(e);
    const kill = o.status.timeline.find((e) => e.event === "Kill")!;
    const restored = o.status.timeline.find((e) => e.event === "Restored")!;
    // Held down for downSeconds: the kubelet came back only when the executor brought it back.
    expect(restored.offsetSeconds - kill.offsetSeconds).toBeGreaterThanOrEqual(20);
    for (const i of held(o)) expect(i, i.message).toMatchObject({ ok: true });
    expect(o.status.verdict === "Passed").toBe(o.status.invariants.every((i) => i.ok));
  }, 210_000);
});
