/**
 * pnpm bench:scheduler — scheduling throughput and pod startup latency with hollow nodes, in one run.
 *
 * First the scheduling cycle alone, in-process. Then SchedulingBasic (as Kubernetes' scheduler_perf):
 * NODES hollow Node objects and PODS pods with small requests, through a real etcd, apiserver and
 * scheduler; throughput is counted from a watch in 1 s samples, with each process's CPU so the
 * bottleneck shows. Startup latency: HOLLOW in-process kubelets with the fake runtime, pods created
 * at 5/s once they have synced, creation → Running observed through a watch. Memory per hollow node:
 * this process's live heap and RSS growth divided by HOLLOW. Every phase is bounded in count and time.
 */
import { setMaxListeners } from "node:events";
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { KINDS, Node, Pod } from "@tskube/api";
import { createClient } from "@tskube/client";
import { EventRecorder } from "@tskube/controller";
import { silentLogger } from "@tskube/log";
import { Kubelet } from "../apps/kubelet/src/kubelet.js";
import { NodeAgent } from "../apps/kubelet/src/node-agent.js";
import { FakeRuntime } from "../apps/kubelet/src/runtime/fake.js";
import { newSnapshot, SchedulerCache } from "../apps/scheduler/src/cache/cache.js";
import { DEFAULT_FILTERS, DEFAULT_SCORES } from "../apps/scheduler/src/plugins/index.js";
import { scheduleOne } from "../apps/scheduler/src/schedule-one.js";
import { startApiserver, startComponent, startEtcd } from "../test/integration/src/harness.js";
import { cpuSeconds, etcdPid, parallel } from "./util.js";

const NODES = Number(process.env.BENCH_NODES ?? 1000);
const PODS = Number(process.env.BENCH_PODS ?? 10_000);
const HOLLOW = Number(process.env.BENCH_HOLLOW_KUBELETS ?? 100);
const STARTUP_PODS = Number(process.env.BENCH_STARTUP_PODS ?? 100);
const PHASE_LIMIT_MS = Number(process.env.BENCH_PHASE_LIMIT_MS ?? 180_000);

// A full GC before each memory reading, without needing `node --expose-gc` on the command line.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;
const pct = (s: number[], p: number) =>
  s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : Number.NaN;

function node(name: string, labels: Record<string, string> = {}): Node {
  return Node.fromPartial({
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...labels } },
    status: {
      capacity: { cpu: "4", memory: "16Gi", pods: "110" },
      allocatable: { cpu: "4", memory: "16Gi", pods: "110" },
      conditions: [{ type: "Ready", status: "True", reason: "KubeletReady" }],
    },
  });
}

function pod(name: string, namespace: string, nodeSelector: Record<string, string> = {}): Pod {
  return Pod.fromPartial({
    metadata: { name, namespace },
    spec: {
      nodeSelector,
      containers: [{ name: "c", image: "pause", resources: { requests: { cpu: "100m", memory: "64Mi" } } }],
    },
  });
}

/**
 * The scheduling cycle by itself, in this process with no API in the way: the scheduler cache's
 * snapshot update, filter and score with the default plugins, and assume, for PODS pods on NODES
 * nodes. The ceiling the scheduler process would reach if binding cost nothing.
 */
function schedulingCycleAlone(): void {
  const cache = new SchedulerCache();
  for (let i = 0; i < NODES; i++) cache.addNode(node(`perf-${i}`));
  const snap = newSnapshot();
  const start = performance.now();
  let next = 0;
  let n = 0;
  for (; n < PODS && performance.now() - start < PHASE_LIMIT_MS; n++) {
    const p = pod(`p-${n}`, "sched");
    cache.updateSnapshot(snap);
    const r = scheduleOne(p, snap, DEFAULT_FILTERS, DEFAULT_SCORES, { tieBreak: n, startIndex: next });
    if (r.node === undefined) break;
    next = (next + r.processed) % snap.nodes.length;
    cache.assumePod({ ...p, spec: { ...p.spec!, nodeName: r.node } });
  }
  const seconds = (performance.now() - start) / 1000;
  console.log(
    `\nscheduling cycle alone (in-process, no API): ${n} pods on ${NODES} nodes in ${seconds.toFixed(1)} s, ${(n / seconds).toFixed(0)} pods/s, ${((1000 * seconds) / n).toFixed(2)} ms per pod`,
  );
}

async function main(): Promise<void> {
  process.env.LOG_LEVEL ??= "warn";
  schedulingCycleAlone();
  const etcd = await startEtcd();
  const api = await startApiserver(etcd.endpoint, { env: { LOG_LEVEL: "warn" } });
  const scheduler = await startComponent("scheduler", ["--server", api.address, "--leader-elect", "false"], {
    LOG_LEVEL: "warn",
  });
  const client = createClient({ servers: [api.address], timeoutMs: 60_000 });
  const ac = new AbortController();
  try {
    const ns = client.resource(kind("Namespace"));
    for (const n of ["sched", "startup"])
      await ns.create({ ...kind("Namespace").messageType.fromPartial({ metadata: { name: n } }) });
    const nodes = client.resource<Node>(kind("Node") as never);
    const pods = client.resource<Pod>(kind("Pod") as never);

    console.log(`\nSchedulingBasic: ${NODES} hollow nodes, ${PODS} pods`);
    await parallel(NODES, 32, (i) => nodes.create(node(`perf-${i}`)));
    const bound = new Set<string>();
    const samples: number[] = [];
    let inSecond = 0;
    const { resourceVersion } = await pods.list({ namespace: "sched", limit: 1 });
    const watching = (async () => {
      for await (const ev of pods.watch({ namespace: "sched", resourceVersion, signal: ac.signal })) {
        const name = ev.object.metadata?.name ?? "";
        if (ev.object.spec?.nodeName && !bound.has(name)) {
          bound.add(name);
          inSecond++;
        }
      }
    })().catch(() => undefined);
    const pids = {
      scheduler: scheduler.proc.pid,
      apiserver: api.proc.pid,
      etcd: etcdPid(etcd.dataDir),
      bench: process.pid,
    };
    const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
    const start = performance.now();
    const sampler = setInterval(() => {
      samples.push(inSecond);
      inSecond = 0;
    }, 1000);
    await parallel(PODS, 32, (i) => pods.create(pod(`p-${i}`, "sched")));
    const createdIn = (performance.now() - start) / 1000;
    const boundWhileCreating = bound.size;
    while (bound.size < PODS && performance.now() - start < PHASE_LIMIT_MS)
      await new Promise((r) => setTimeout(r, 100));
    clearInterval(sampler);
    const seconds = (performance.now() - start) / 1000;
    const sorted = [...samples].filter((s) => s > 0).sort((a, b) => a - b);
    console.log(
      `  created ${PODS} pods in ${createdIn.toFixed(1)} s (${(PODS / createdIn).toFixed(0)} pods/s, 32 clients); bound ${bound.size}/${PODS} in ${seconds.toFixed(1)} s`,
    );
    console.log(
      `  throughput: average ${(bound.size / seconds).toFixed(0)} pods/s, 1 s samples p50 ${pct(sorted, 50)} p99 ${pct(sorted, 99)} (target average >= 300 pods/s)`,
    );
    // Creation competes for the same apiserver; the backlog rate is the scheduler's pace alone.
    console.log(
      `    while creating ${(boundWhileCreating / createdIn).toFixed(0)} pods/s; after, from the backlog of ${PODS - boundWhileCreating}, ${((bound.size - boundWhileCreating) / Math.max(0.001, seconds - createdIn)).toFixed(0)} pods/s`,
    );
    // Who is busy: on a shared machine, a process near 100% of a core is the bottleneck. CPU per
    // pod does not depend on what else runs, so it gives the ceiling: a Node process uses one core.
    const used = Object.fromEntries(
      Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid) - cpuBefore[k]!]),
    );
    const msPerPod = Object.values(used).map((v) => (1000 * v) / bound.size);
    console.log(
      `  CPU in this phase (cores): ${Object.entries(used)
        .map(([k, v]) => `${k} ${(v / seconds).toFixed(2)}`)
        .join(", ")}; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
    );
    console.log(
      `  CPU per bound pod: ${Object.keys(used)
        .map((k, i) => `${k} ${msPerPod[i]!.toFixed(2)} ms`)
        .join(
          ", ",
        )}; ceiling ${(1000 / Math.max(...msPerPod)).toFixed(0)} pods/s with a core per process, ${((cpus().length * 1000) / msPerPod.reduce((a, b) => a + b, 0)).toFixed(0)} pods/s on ${cpus().length} cores`,
    );
    const metrics = await (await fetch(`${scheduler.httpUrl}/metrics`)).text();
    const mean = (name: string, labels: string) =>
      (1000 * Number(new RegExp(`^${name}_sum\\{${labels}\\} (\\S+)$`, "m").exec(metrics)?.[1])) /
      Number(new RegExp(`^${name}_count\\{${labels}\\} (\\S+)$`, "m").exec(metrics)?.[1]);
    console.log(
      `  scheduler: scheduling attempt mean ${mean("scheduler_scheduling_attempt_duration_seconds", 'result="scheduled"').toFixed(2)} ms, binding write mean ${mean("scheduler_framework_extension_point_duration_seconds", 'extension_point="Bind",status="Success"').toFixed(1)} ms`,
    );

    console.log(`\nstartup latency and memory: ${HOLLOW} in-process hollow kubelets (fake runtime)`);
    gc();
    const before = process.memoryUsage();
    const hollowClient = createClient({ servers: [api.address], timeoutMs: 60_000 });
    const recorder = new EventRecorder({
      events: hollowClient.resource("events"),
      component: "kubelet",
      log: silentLogger,
    });
    const runs: Promise<unknown>[] = [];
    const kubelets: Kubelet[] = [];
    // Every hollow kubelet and node agent listens on the one stop signal.
    setMaxListeners(0, ac.signal);
    for (let i = 0; i < HOLLOW; i++) {
      const name = `hollow-${i}`;
      const runtime = new FakeRuntime(`10.${100 + Math.floor(i / 250)}.${i % 250}.0`);
      const agent = new NodeAgent({
        client: hollowClient,
        nodeName: name,
        nodeIp: "127.0.0.1",
        podCidr: `10.${100 + Math.floor(i / 250)}.${i % 250}.0/24`,
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
    // Measure on a settled cluster: every hollow kubelet has listed its pods (100 lists against
    // 10,000 pods keep the apiserver busy for a while on a small machine).
    const syncStart = performance.now();
    const synced = await Promise.race([
      Promise.all(kubelets.map((k) => k.pods.waitForSync(ac.signal))).then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), PHASE_LIMIT_MS)),
    ]);
    console.log(
      `  ${HOLLOW} hollow kubelets ${synced ? "synced" : "NOT synced"} in ${((performance.now() - syncStart) / 1000).toFixed(1)} s`,
    );
    const created = new Map<string, number>();
    const scheduledAt = new Map<string, number>();
    const latency: number[] = [];
    const toBound: number[] = [];
    const boundToRunning: number[] = [];
    const timeline = new Map<string, { created: number; bound: number; running: number }>();
    const phaseStart = performance.now();
    const rv = (await pods.list({ namespace: "startup", limit: 1 })).resourceVersion;
    const startupWatch = (async () => {
      for await (const ev of pods.watch({ namespace: "startup", resourceVersion: rv, signal: ac.signal })) {
        const name = ev.object.metadata?.name ?? "";
        const t = created.get(name);
        if (t === undefined) continue;
        const now = performance.now();
        if (ev.object.spec?.nodeName && !scheduledAt.has(name)) {
          scheduledAt.set(name, now);
          toBound.push(now - t);
        }
        if (ev.object.status?.phase === "Running") {
          latency.push(now - t);
          boundToRunning.push(now - (scheduledAt.get(name) ?? now));
          timeline.set(name, {
            created: t - phaseStart,
            bound: (scheduledAt.get(name) ?? now) - t,
            running: now - t,
          });
          created.delete(name);
        }
      }
    })().catch(() => undefined);
    for (let i = 0; i < STARTUP_PODS; i++) {
      const name = `s-${i}`;
      created.set(name, performance.now());
      await pods.create(pod(name, "startup", { hollow: "true" }));
      await new Promise((r) => setTimeout(r, 200));
    }
    const deadline = performance.now() + 30_000;
    while (latency.length < STARTUP_PODS && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    for (const l of [latency, toBound, boundToRunning]) l.sort((a, b) => a - b);
    const ms = (l: number[]) => `p50 ${pct(l, 50).toFixed(0)} ms, p99 ${pct(l, 99).toFixed(0)} ms`;
    console.log(
      `  ${latency.length}/${STARTUP_PODS} pods Running; creation -> Running ${ms(latency)} (target p99 <= 1000 ms)`,
    );
    console.log(`    of which creation -> bound ${ms(toBound)}; bound -> Running ${ms(boundToRunning)}`);
    const slowest = [...timeline].sort((a, b) => b[1].running - a[1].running).slice(0, 3);
    console.log(
      `    slowest: ${slowest.map(([n, t]) => `${n} created at +${(t.created / 1000).toFixed(1)} s, bound +${t.bound.toFixed(0)} ms, Running +${t.running.toFixed(0)} ms`).join("; ")}`,
    );
    // With their pods running. RSS rarely shrinks after a GC, so the live heap (JS + buffers) is
    // the steadier per-node figure; both count what the kubelets share (one client) once.
    gc();
    const after = process.memoryUsage();
    const mib = (bytes: number) => (bytes / HOLLOW / 1024 / 1024).toFixed(2);
    console.log(
      `  memory per hollow node: ${mib(after.heapUsed + after.external - before.heapUsed - before.external)} MiB of live heap, ${mib(after.rss - before.rss)} MiB of RSS (target <= 20 MB)`,
    );
    ac.abort();
    await Promise.allSettled([watching, startupWatch, ...runs]);
    hollowClient.close();
  } finally {
    ac.abort();
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
