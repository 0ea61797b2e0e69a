/**
 * pnpm bench:scheduler — scheduling throughput and pod startup latency with hollow nodes, in one run.
 *
 * SchedulingBasic (as Kubernetes' scheduler_perf): NODES hollow Node objects and PODS pods with small
 * requests; throughput is counted from a watch in 1 s samples. Startup latency: HOLLOW in-process
 * kubelets with the fake runtime, pods created at 5/s, creation → Running observed through a watch.
 * Memory per hollow node: this process's RSS growth divided by HOLLOW. Every phase is bounded in
 * count and time.
 */
import { performance } from "node:perf_hooks";
import { KINDS, Node, Pod } from "@tskube/api";
import { createClient } from "@tskube/client";
import { EventRecorder } from "@tskube/controller";
import { silentLogger } from "@tskube/log";
import { Kubelet } from "../apps/kubelet/src/kubelet.js";
import { NodeAgent } from "../apps/kubelet/src/node-agent.js";
import { FakeRuntime } from "../apps/kubelet/src/runtime/fake.js";
import { startApiserver, startComponent, startEtcd } from "../test/integration/src/harness.js";

const NODES = Number(process.env.BENCH_NODES ?? 1000);
const PODS = Number(process.env.BENCH_PODS ?? 10_000);
const HOLLOW = Number(process.env.BENCH_HOLLOW_KUBELETS ?? 100);
const STARTUP_PODS = Number(process.env.BENCH_STARTUP_PODS ?? 100);
const PHASE_LIMIT_MS = Number(process.env.BENCH_PHASE_LIMIT_MS ?? 180_000);

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

async function parallel(n: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < n; i = next++) await fn(i);
    }),
  );
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
    const start = performance.now();
    const sampler = setInterval(() => {
      samples.push(inSecond);
      inSecond = 0;
    }, 1000);
    await parallel(PODS, 32, (i) => pods.create(pod(`p-${i}`, "sched")));
    while (bound.size < PODS && performance.now() - start < PHASE_LIMIT_MS)
      await new Promise((r) => setTimeout(r, 100));
    clearInterval(sampler);
    const seconds = (performance.now() - start) / 1000;
    const sorted = [...samples].filter((s) => s > 0).sort((a, b) => a - b);
    console.log(`  bound ${bound.size}/${PODS} pods in ${seconds.toFixed(1)} s`);
    console.log(
      `  throughput: average ${(bound.size / seconds).toFixed(0)} pods/s, 1 s samples p50 ${pct(sorted, 50)} p99 ${pct(sorted, 99)} (target average >= 300 pods/s)`,
    );

    console.log(`\nstartup latency and memory: ${HOLLOW} in-process hollow kubelets (fake runtime)`);
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const hollowClient = createClient({ servers: [api.address], timeoutMs: 60_000 });
    const recorder = new EventRecorder({
      events: hollowClient.resource("events"),
      component: "kubelet",
      log: silentLogger,
    });
    const runs: Promise<unknown>[] = [];
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
    }
    await new Promise((r) => setTimeout(r, 3000));
    global.gc?.();
    const perNode = (process.memoryUsage().rss - rssBefore) / HOLLOW;
    const created = new Map<string, number>();
    const latency: number[] = [];
    const rv = (await pods.list({ namespace: "startup", limit: 1 })).resourceVersion;
    const startupWatch = (async () => {
      for await (const ev of pods.watch({ namespace: "startup", resourceVersion: rv, signal: ac.signal })) {
        const name = ev.object.metadata?.name ?? "";
        const t = created.get(name);
        if (t !== undefined && ev.object.status?.phase === "Running") {
          latency.push(performance.now() - t);
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
    latency.sort((a, b) => a - b);
    console.log(
      `  ${latency.length}/${STARTUP_PODS} pods Running; creation -> Running p50 ${pct(latency, 50).toFixed(0)} ms, p99 ${pct(latency, 99).toFixed(0)} ms (target p99 <= 1000 ms)`,
    );
    console.log(
      `  memory per hollow node: ${(perNode / 1024 / 1024).toFixed(2)} MiB of RSS (target <= 20 MB)`,
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
