/**
 * pnpm bench:controllers — the controller-manager under a rollout of DEPLOYMENTS × REPLICAS pods on
 * NODES hollow nodes, and its leader failover, in one run.
 *
 * A real etcd, apiserver and scheduler, the hollow kubelets (fake runtime) in this process, and two
 * controller-manager processes (one leads the Lease kube-system/kube-controller-manager, with the
 * compose fast profile 4s/3s/1s). Phase 1 creates the Deployments, phase 2 sets a new image on all;
 * each is timed until every Deployment reports all replicas updated and available, seen through a
 * Deployment watch. A pod watch keeps per-Deployment counts for the largest surge and the fewest
 * available. Writes per pod come from the apiserver's apiserver_request_total before and after.
 * Failover: ROUNDS times SIGKILL the leader, then scale a Deployment up by one: time until the
 * standby holds the Lease and until the new pod exists. Every phase is bounded in count and time.
 */

import { spawn } from "node:child_process";
import { setMaxListeners } from "node:events";
import { createWriteStream, mkdtempSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Deployment, KINDS, type Lease, Namespace, type Pod, type ReplicaSet } from "@tskube/api";
import { createClient, type ResourceClient } from "@tskube/client";
import { EventRecorder } from "@tskube/controller";
import { silentLogger } from "@tskube/log";
import { isConflict } from "@tskube/machinery";
import { Kubelet } from "../apps/kubelet/src/kubelet.js";
import { NodeAgent } from "../apps/kubelet/src/node-agent.js";
import { FakeRuntime } from "../apps/kubelet/src/runtime/fake.js";
import {
  type ComponentHandle,
  freePort,
  REPO_ROOT,
  startApiserver,
  startComponent,
  startEtcd,
  waitFor,
} from "../test/integration/src/harness.js";
import { cpuSeconds, etcdPid, parallel } from "./util.js";

const DEPLOYMENTS = Number(process.env.BENCH_DEPLOYMENTS ?? 100);
const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 10);
const NODES = Number(process.env.BENCH_NODES ?? 100);
const PHASE_LIMIT_MS = Number(process.env.BENCH_PHASE_LIMIT_MS ?? 180_000);
const ROUNDS = Number(process.env.BENCH_FAILOVER_ROUNDS ?? 5);
/** Set to a directory to get a .cpuprofile of each controller-manager (written when it stops cleanly). */
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF_DIR ?? "";
/** More controller-manager flags, space-separated (for example --concurrent-replicaset-syncs=10). */
const CM_ARGS = (process.env.BENCH_CONTROLLER_MANAGER_ARGS ?? "").split(" ").filter(Boolean);
const NS = "bench";
/** The compose fast profile (Kubernetes: 15s/10s/2s). */
const LEASE = { duration: "4s", renew: "3s", retry: "1s" };
const FAILOVER_TARGET_MS = 5000;
const ROLLOUT_TARGET_MS = 30_000;
const WRITE_VERBS = new Set(["create", "update", "update_status", "patch", "delete", "deletecollection"]);

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : Number.NaN;
};
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Sum and count of apiserver_request_duration_seconds by verb and resource. */
async function latencies(httpUrl: string): Promise<Map<string, { sum: number; count: number }>> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const out = new Map<string, { sum: number; count: number }>();
  for (const m of text.matchAll(/^apiserver_request_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries(
      [...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!] as const),
    );
    const key = `${labels.verb} ${labels.resource}`;
    const e = out.get(key) ?? { sum: 0, count: 0 };
    if (m[1] === "sum") e.sum += Number(m[3]);
    else e.count += Number(m[3]);
    out.set(key, e);
  }
  return out;
}

/** Successful writes by resource, from the apiserver's apiserver_request_total. */
async function writeCounts(httpUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^apiserver_request_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries(
      [...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!] as const),
    );
    if (!WRITE_VERBS.has(labels.verb ?? "")) continue;
    // Refused writes (conflicts above all) are counted apart, with their code.
    const key = `${labels.verb} ${labels.resource}${labels.code === "OK" ? "" : ` (${labels.code})`}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[2]));
  }
  return out;
}

function diffCounts(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out.set(k, d);
  }
  return out;
}

function deployment(name: string, replicas: number, image: string): Deployment {
  return Deployment.fromPartial({
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: "c", image, resources: { requests: { cpu: "10m", memory: "16Mi" } } }],
        },
      },
    },
  });
}

/** Rolled out as `kubectl rollout status` judges it: the latest spec observed, all updated and available. */
function rolledOut(d: Deployment): boolean {
  const s = d.status;
  const want = d.spec?.replicas ?? 1;
  return (
    !!s &&
    s.observedGeneration >= (d.metadata?.generation ?? 0) &&
    s.updatedReplicas === want &&
    s.replicas === want &&
    s.availableReplicas === want
  );
}

const isActive = (p: Pod) =>
  !p.metadata?.deletionTimestamp && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed";
const isReady = (p: Pod) =>
  p.status?.conditions.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/**
 * Deployments and pods as the watches show them: which Deployments are rolled out, and per
 * Deployment the active pods (not terminating) and how many of them are ready, so the largest surge
 * and the fewest available are seen at every change.
 */
class Observer {
  readonly deployments = new Map<string, Deployment>();
  private readonly pods = new Map<string, Pod>();
  private readonly active = new Map<string, number>();
  private readonly ready = new Map<string, number>();
  maxSurge = 0;
  /** The same from the ReplicaSets' spec.replicas: what the Deployment controller asked for. */
  maxSpecSurge = 0;
  private readonly rsSizes = new Map<string, { app: string; replicas: number }>();
  minAvailable = Number.POSITIVE_INFINITY;
  /** Only once every Deployment was available: phase 1 starts from zero by design. */
  trackAvailability = false;
  podsCreated = 0;
  private waiters: (() => void)[] = [];

  resetExtremes(): void {
    this.maxSurge = 0;
    this.maxSpecSurge = 0;
    this.minAvailable = Number.POSITIVE_INFINITY;
  }

  onDeployment(type: string, d: Deployment): void {
    if (type === "DELETED") this.deployments.delete(d.metadata!.name);
    else this.deployments.set(d.metadata!.name, d);
    this.wake();
  }

  onReplicaSet(type: string, rs: ReplicaSet): void {
    const app = rs.metadata?.labels.app ?? "";
    if (type === "DELETED") this.rsSizes.delete(rs.metadata!.name);
    else this.rsSizes.set(rs.metadata!.name, { app, replicas: rs.spec?.replicas ?? 0 });
    let sum = 0;
    for (const x of this.rsSizes.values()) if (x.app === app) sum += x.replicas;
    const want = this.deployments.get(app)?.spec?.replicas ?? REPLICAS;
    this.maxSpecSurge = Math.max(this.maxSpecSurge, sum - want);
  }

  onPod(type: string, p: Pod): void {
    const name = p.metadata!.name;
    const app = p.metadata?.labels.app ?? "";
    const old = this.pods.get(name);
    if (!old && type !== "DELETED") this.podsCreated++;
    if (old) this.count(app, old, -1);
    if (type === "DELETED") this.pods.delete(name);
    else {
      this.pods.set(name, p);
      this.count(app, p, 1);
    }
    const want = this.deployments.get(app)?.spec?.replicas ?? REPLICAS;
    this.maxSurge = Math.max(this.maxSurge, (this.active.get(app) ?? 0) - want);
    if (this.trackAvailability) this.minAvailable = Math.min(this.minAvailable, this.ready.get(app) ?? 0);
    this.wake();
  }

  private count(app: string, p: Pod, sign: 1 | -1): void {
    if (!isActive(p)) return;
    this.active.set(app, (this.active.get(app) ?? 0) + sign);
    if (isReady(p)) this.ready.set(app, (this.ready.get(app) ?? 0) + sign);
  }

  podsOf(app: string): number {
    return this.active.get(app) ?? 0;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves true once cond holds (checked after every event), false after ms. */
  async until(cond: () => boolean, ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (!cond()) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return true;
  }
}

/**
 * A controller-manager process with the fast lease profile. Started here rather than through the
 * harness so that `--cpu-prof` can go on node's command line (NODE_OPTIONS refuses it).
 */
async function startControllerManager(server: string, id: string): Promise<ComponentHandle> {
  const httpPort = await freePort();
  const logFile = join(mkdtempSync(join(tmpdir(), "tskube-controller-manager-")), "controller-manager.log");
  const proc = spawn(
    process.execPath,
    [
      ...(CPU_PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF_DIR}`] : []),
      "--import",
      "tsx",
      join(REPO_ROOT, "apps/controller-manager/src/main.ts"),
      "--http-address",
      `127.0.0.1:${httpPort}`,
      "--server",
      server,
      "--id",
      id,
      "--leader-elect-lease-duration",
      LEASE.duration,
      "--leader-elect-renew-deadline",
      LEASE.renew,
      "--leader-elect-retry-period",
      LEASE.retry,
      ...CM_ARGS,
    ],
    { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOG_LEVEL: "warn" } },
  );
  const log = createWriteStream(logFile);
  proc.stdout?.pipe(log);
  proc.stderr?.pipe(log);
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  await waitFor(`controller-manager ${id} (log: ${logFile})`, async () => {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`controller-manager exited with ${proc.exitCode}; log: ${logFile}`);
    return (await fetch(`${httpUrl}/healthz`)).ok;
  });
  const end = async (signal: NodeJS.Signals) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await exited;
  };
  return {
    proc,
    logFile,
    httpUrl,
    stop: async () => {
      await end("SIGTERM");
      return proc.exitCode;
    },
    kill: () => end("SIGKILL"),
  };
}

async function setImage(deployments: ResourceClient<Deployment>, name: string, image: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const d = await deployments.get(name, { namespace: NS });
    d.spec!.template!.spec!.containers[0]!.image = image;
    try {
      await deployments.update(d);
      return;
    } catch (err) {
      // The controller writes the revision annotation on the same object.
      if (!isConflict(err) || attempt >= 5) throw err;
    }
  }
}

async function main(): Promise<void> {
  process.env.LOG_LEVEL ??= "warn";
  const etcd = await startEtcd();
  const api = await startApiserver(etcd.endpoint, { env: { LOG_LEVEL: "warn" } });
  const scheduler = await startComponent("scheduler", ["--server", api.address, "--leader-elect", "false"], {
    LOG_LEVEL: "warn",
  });
  const client = createClient({ servers: [api.address], timeoutMs: 60_000 });
  const ac = new AbortController();
  setMaxListeners(0, ac.signal);
  const managers = new Map<string, ComponentHandle>();
  const startManager = async (id: string) => {
    managers.set(id, await startControllerManager(api.address, id));
  };
  const runs: Promise<unknown>[] = [];
  try {
    await client
      .resource<Namespace>(kind("Namespace") as never)
      .create(Namespace.fromPartial({ metadata: { name: NS } }));
    const deployments = client.resource<Deployment>(kind("Deployment") as never);
    const pods = client.resource<Pod>(kind("Pod") as never);
    const leases = client.resource<Lease>(kind("Lease") as never);
    const replicaSets = client.resource<ReplicaSet>(kind("ReplicaSet") as never);

    console.log(
      `\ncontrollers: ${DEPLOYMENTS} Deployments x ${REPLICAS} replicas on ${NODES} hollow nodes (in-process kubelets, fake runtime); two controller-managers, lease ${LEASE.duration}/${LEASE.renew}/${LEASE.retry}`,
    );
    const hollowClient = createClient({ servers: [api.address], timeoutMs: 60_000 });
    const recorder = new EventRecorder({
      events: hollowClient.resource("events"),
      component: "kubelet",
      log: silentLogger,
    });
    const kubelets: Kubelet[] = [];
    for (let i = 0; i < NODES; i++) {
      const name = `hollow-${i}`;
      const cidr = `10.${100 + Math.floor(i / 250)}.${i % 250}.0`;
      const runtime = new FakeRuntime(cidr);
      const agent = new NodeAgent({
        client: hollowClient,
        nodeName: name,
        nodeIp: "127.0.0.1",
        podCidr: `${cidr}/24`,
        capacity: { cpu: "4", memory: "16Gi", pods: "110" },
        labels: { hollow: "true" },
        runtime,
        kubeletPort: 10250,
        leaseDurationSeconds: 40,
        leaseRenewIntervalMs: 10_000,
        statusUpdateIntervalMs: 10_000,
        log: silentLogger,
      });
      await agent.register();
      const kubelet = new Kubelet({
        client: hollowClient,
        rootDir: "/nonexistent",
        runtime,
        recorder,
        nodeName: name,
        nodeIp: "127.0.0.1",
        log: silentLogger,
        backoff: { initialMs: 10_000, maxMs: 300_000, resetMs: 600_000 },
        relistPeriodMs: 1000,
      });
      runs.push(agent.run(ac.signal), kubelet.run(ac.signal));
      kubelets.push(kubelet);
    }
    await Promise.all(kubelets.map((k) => k.pods.waitForSync(ac.signal)));

    await startManager("cm-a");
    await startManager("cm-b");
    const holder = async () =>
      (await leases.get("kube-controller-manager", { namespace: "kube-system" }).catch(() => undefined))?.spec
        ?.holderIdentity ?? "";
    const waitLeader = async (ms: number) => {
      const deadline = performance.now() + ms;
      for (let h = await holder(); performance.now() < deadline; h = await holder()) {
        if (managers.has(h)) return h;
        await new Promise((r) => setTimeout(r, 100));
      }
      return "";
    };
    const leader = await waitLeader(30_000);
    if (!leader) throw new Error("no controller-manager took the lease within 30 s");

    const obs = new Observer();
    const rvD = (await deployments.list({ namespace: NS, limit: 1 })).resourceVersion;
    const rvP = (await pods.list({ namespace: NS, limit: 1 })).resourceVersion;
    const rvR = (await replicaSets.list({ namespace: NS, limit: 1 })).resourceVersion;
    runs.push(
      (async () => {
        for await (const ev of deployments.watch({ namespace: NS, resourceVersion: rvD, signal: ac.signal }))
          if (ev.type !== "BOOKMARK") obs.onDeployment(ev.type, ev.object);
      })().catch((err) => console.error("deployment watch ended:", (err as Error).message)),
      (async () => {
        for await (const ev of pods.watch({ namespace: NS, resourceVersion: rvP, signal: ac.signal }))
          if (ev.type !== "BOOKMARK") obs.onPod(ev.type, ev.object);
      })().catch((err) => console.error("pod watch ended:", (err as Error).message)),
      (async () => {
        for await (const ev of replicaSets.watch({ namespace: NS, resourceVersion: rvR, signal: ac.signal }))
          if (ev.type !== "BOOKMARK") obs.onReplicaSet(ev.type, ev.object);
      })().catch((err) => console.error("replicaset watch ended:", (err as Error).message)),
    );
    const names = Array.from({ length: DEPLOYMENTS }, (_, i) => `d-${i}`);
    const allRolledOut = (image: string) => () =>
      names.every((n) => {
        const d = obs.deployments.get(n);
        return !!d && d.spec?.template?.spec?.containers[0]?.image === image && rolledOut(d);
      });
    const pids = () => ({
      "controller-manager (leader)": managers.get(leader)?.proc.pid,
      apiserver: api.proc.pid,
      etcd: etcdPid(etcd.dataDir),
      scheduler: scheduler.proc.pid,
      "bench (kubelets)": process.pid,
    });

    const total = DEPLOYMENTS * REPLICAS;
    const phase = async (title: string, image: string, act: () => Promise<void>) => {
      const p = pids();
      const cpuBefore = Object.fromEntries(Object.entries(p).map(([k, pid]) => [k, cpuSeconds(pid)]));
      const writesBefore = await writeCounts(api.httpUrl);
      const latBefore = await latencies(api.httpUrl);
      const createdBefore = obs.podsCreated;
      obs.resetExtremes();
      const start = performance.now();
      await act();
      const issued = performance.now() - start;
      const ok = await obs.until(allRolledOut(image), PHASE_LIMIT_MS - issued);
      const ms = performance.now() - start;
      const writes = diffCounts(writesBefore, await writeCounts(api.httpUrl));
      const created = obs.podsCreated - createdBefore;
      const sum = [...writes.values()].reduce((a, b) => a + b, 0);
      const done = names.filter((n) => {
        const d = obs.deployments.get(n);
        return !!d && d.spec?.template?.spec?.containers[0]?.image === image && rolledOut(d);
      }).length;
      console.log(`\n${title}`);
      console.log(
        `  ${ok ? "all" : "NOT all"} ${DEPLOYMENTS} Deployments available (${done} rolled out) in ${secs(ms)} (requests issued in ${secs(issued)}; target <= ${secs(ROLLOUT_TARGET_MS)} for ${total} pods)`,
      );
      console.log(
        `  largest surge ${obs.maxSurge} pods above spec.replicas, ${obs.maxSpecSurge} in the ReplicaSets' spec.replicas (maxSurge 25% of ${REPLICAS}: <= ${Math.ceil(REPLICAS / 4)})${obs.trackAvailability ? `; fewest available ${obs.minAvailable} (maxUnavailable 25%: >= ${REPLICAS - Math.floor(REPLICAS / 4)})` : ""}`,
      );
      console.log(
        `  API writes: ${sum} for ${created} pods created, ${(sum / Math.max(1, created)).toFixed(1)} per pod`,
      );
      console.log(
        `    ${[...writes]
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}`,
      );
      const latAfter = await latencies(api.httpUrl);
      const lat = [...latAfter]
        .map(([k, v]) => {
          const b = latBefore.get(k) ?? { sum: 0, count: 0 };
          return [k, v.count - b.count, (1000 * (v.sum - b.sum)) / Math.max(1, v.count - b.count)] as const;
        })
        .filter(([, n]) => n >= DEPLOYMENTS)
        .sort((a, b) => b[1] - a[1]);
      console.log(
        `  apiserver latency (mean, as it measures it): ${lat
          .slice(0, 8)
          .map(([k, , ms]) => `${k} ${ms.toFixed(1)} ms`)
          .join(", ")}`,
      );
      const used = Object.entries(p).map(([k, pid]) => [k, cpuSeconds(pid) - cpuBefore[k]!] as const);
      console.log(
        `  CPU (cores): ${used.map(([k, v]) => `${k} ${(v / (ms / 1000)).toFixed(2)}`).join(", ")}; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
      );
      console.log(
        `  CPU per pod: ${used.map(([k, v]) => `${k} ${((1000 * v) / Math.max(1, created)).toFixed(2)} ms`).join(", ")}`,
      );
      return ok;
    };

    const ok1 = await phase(`phase 1: create ${DEPLOYMENTS} Deployments x ${REPLICAS}`, "pause:1", () =>
      parallel(DEPLOYMENTS, 16, (i) => deployments.create(deployment(names[i]!, REPLICAS, "pause:1"))),
    );
    if (ok1) obs.trackAvailability = true;
    const ok2 = await phase(`phase 2: new image on all ${DEPLOYMENTS} Deployments`, "pause:2", () =>
      parallel(DEPLOYMENTS, 16, (i) => setImage(deployments, names[i]!, "pause:2")),
    );
    if (!ok1 || !ok2) console.log("  (a phase hit BENCH_PHASE_LIMIT_MS; figures above are partial)");

    console.log(
      `\nfailover: ${ROUNDS} x SIGKILL the leading controller-manager, then scale Deployment failover up by one`,
    );
    await deployments.create(deployment("failover", 1, "pause:1"));
    await obs.until(() => {
      const d = obs.deployments.get("failover");
      return !!d && rolledOut(d);
    }, 30_000);
    const toLease: number[] = [];
    const toAct: number[] = [];
    const toAvailable: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const current = await waitLeader(30_000);
      const handle = managers.get(current);
      if (!handle) {
        console.log(`  round ${round}: no leader to kill`);
        break;
      }
      const want = round + 1;
      const killedAt = performance.now();
      await handle.kill();
      managers.delete(current);
      const d = await deployments.get("failover", { namespace: NS });
      d.spec!.replicas = want;
      await deployments.update(d);
      let leaseMs = Number.NaN;
      const watchLease = (async () => {
        const deadline = killedAt + 30_000;
        while (performance.now() < deadline) {
          const h = await holder();
          if (h && h !== current) {
            leaseMs = performance.now() - killedAt;
            return h;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
        return "";
      })();
      const acted = await obs.until(() => obs.podsOf("failover") >= want, 60_000);
      const actMs = performance.now() - killedAt;
      const available = await obs.until(() => {
        const x = obs.deployments.get("failover");
        return !!x && x.spec?.replicas === want && rolledOut(x);
      }, 60_000);
      const availMs = performance.now() - killedAt;
      const next = await watchLease;
      if (!acted || !next) {
        console.log(
          `  round ${round}: killed ${current}; ${next || "nobody"} took the lease, pods acted: ${acted}`,
        );
        break;
      }
      toLease.push(leaseMs);
      toAct.push(actMs);
      if (available) toAvailable.push(availMs);
      console.log(
        `  round ${round}: killed ${current}; ${next} holds the lease after ${leaseMs.toFixed(0)} ms, new pod created after ${actMs.toFixed(0)} ms, Deployment available after ${available ? `${availMs.toFixed(0)} ms` : "(not within 60 s)"}`,
      );
      // The killed one comes back as the standby, as compose's restart policy would bring it back.
      await startManager(current);
    }
    console.log(
      `  median: lease taken after ${median(toLease).toFixed(0)} ms, standby acts after ${median(toAct).toFixed(0)} ms (target <= ${FAILOVER_TARGET_MS} ms: lease ${LEASE.duration} + retry ${LEASE.retry}), Deployment available after ${median(toAvailable).toFixed(0)} ms`,
    );
    hollowClient.close();
  } finally {
    ac.abort();
    await Promise.allSettled(runs);
    for (const m of managers.values()) await m.stop();
    client.close();
    await scheduler.stop();
    await api.stop();
    await etcd.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
