/**
 * pnpm bench:api — apiserver throughput and latency against raw etcd, in one run on this machine.
 *
 * Prints: creates/s and p50/p99 create latency through the apiserver at 1 and 64 concurrent clients,
 * the same for raw etcd create transactions (the ratio is the figure); updates/s at 64 clients through
 * the apiserver against raw etcd update transactions made with the apiserver's own etcd client, and
 * the etcd round trips per apiserver update (etcd_requests_total); watch delivery latency p50/p99
 * with 100 watchers, and apiserver RSS after 20,000 objects. Every loop is bounded in count and time.
 */
import { spawn, spawnSync } from "node:child_process";
import { setMaxListeners } from "node:events";
import { createWriteStream, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ConfigMap, KINDS, Namespace, Pod } from "@tskube/api";
import { createClient } from "@tskube/client";
import { Etcd3 } from "etcd3";
import { EtcdKv } from "../apps/apiserver/src/storage/etcd-kv.js";
import { freePort, REPO_ROOT, startEtcd } from "../test/integration/src/harness.js";
import { cpuSeconds, etcdPid } from "./util.js";

const CREATES_PER_RUN = Number(process.env.BENCH_CREATES ?? 4000);
const UPDATES_PER_RUN = Number(process.env.BENCH_UPDATES ?? 4000);
/** Clients of the update runs, each updating its own object (a controller's status writes). */
const UPDATE_CLIENTS = 64;
const RUN_TIME_LIMIT_MS = Number(process.env.BENCH_TIME_LIMIT_MS ?? 30_000);
const WATCHERS = Number(process.env.BENCH_WATCHERS ?? 100);
const WATCH_EVENTS = Number(process.env.BENCH_WATCH_EVENTS ?? 200);
const RSS_OBJECTS = Number(process.env.BENCH_RSS_OBJECTS ?? 20_000);
/** When set, the apiserver runs with `node --cpu-prof` and writes its profile here on exit. */
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF_DIR ?? "";
/**
 * BENCH_APISERVER=bundle (default) runs the apiserver the way the tskube image runs it: the esbuild
 * bundle of scripts/bundle-image.ts on plain node. BENCH_APISERVER=source runs apps/apiserver/src
 * under tsx, as `pnpm local-up` does (its dev loader costs CPU per call).
 */
const APISERVER_BUILD = process.env.BENCH_APISERVER ?? "bundle";
/**
 * BENCH_ROUNDS (3) repeats the three create runs (etcd3 client, apiserver's KV client, apiserver)
 * in turn, so a change in the machine's load between runs does not decide the ratio; each side's
 * median round is compared.
 */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
/** BENCH_CREATES_ONLY=1 stops after the create runs (for profiling the create path). */
const CREATES_ONLY = process.env.BENCH_CREATES_ONLY === "1";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface RunResult {
  ops: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** CPU milliseconds per op of each measured process (NaN when not measured). */
  cpuMsPerOp: Record<string, number>;
}

/** Processes whose CPU time each run charges to its ops. */
const measured: Record<string, number | undefined> = {};

/**
 * Runs `op` from `concurrency` loops until `total` ops are done or the time limit passes; op gets
 * the op's index and its loop's.
 */
async function run(
  concurrency: number,
  total: number,
  op: (i: number, worker: number) => Promise<void>,
): Promise<RunResult> {
  const latencies: number[] = [];
  const cpuBefore = Object.fromEntries(Object.entries(measured).map(([k, pid]) => [k, cpuSeconds(pid)]));
  let next = 0;
  const start = performance.now();
  const deadline = start + RUN_TIME_LIMIT_MS;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = next++; i < total && performance.now() < deadline; i = next++) {
        const t0 = performance.now();
        await op(i, worker);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const cpuMsPerOp = Object.fromEntries(
    Object.entries(measured).map(([k, pid]) => [
      k,
      ((cpuSeconds(pid) - cpuBefore[k]!) * 1000) / Math.max(1, latencies.length),
    ]),
  );
  return {
    ops: latencies.length,
    perSecond: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuMsPerOp,
  };
}

/** The run with the median throughput. */
const median = (runs: RunResult[]) =>
  [...runs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(runs.length / 2)]!;

const pct = (a: RunResult, b: RunResult) => `${((100 * a.perSecond) / b.perSecond).toFixed(0)} %`;

const cpu = (r: RunResult, who: string) => (r.cpuMsPerOp[who] ?? Number.NaN).toFixed(3);

const fmt = (r: RunResult, who: string, what = "create") =>
  `${r.perSecond.toFixed(0).padStart(6)} ${what}s/s   p50 ${r.p50.toFixed(2).padStart(7)} ms   p99 ${r.p99.toFixed(2).padStart(7)} ms   (${r.ops} ops)   CPU ms/${what}: etcd ${cpu(r, "etcd")}, ${who} ${cpu(r, who)}`;

/** The apiserver's etcd calls so far (etcd_requests_total, every operation). */
async function etcdRequests(httpUrl: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^etcd_requests_total\{[^}]*\} (\S+)$/gm)) total += Number(m[1]);
  return total;
}

/**
 * The apiserver process, started here rather than through the harness so that `--cpu-prof` can go
 * on node's command line (NODE_OPTIONS refuses it). Ready when /readyz says ok.
 */
async function startApiserver(etcd: string) {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const logFile = join(mkdtempSync(join(tmpdir(), "tskube-apiserver-")), "apiserver.log");
  let entry: string[];
  if (APISERVER_BUILD === "source")
    entry = ["--import", "tsx", join(REPO_ROOT, "apps/apiserver/src/main.ts")];
  else if (APISERVER_BUILD === "bundle") {
    const outdir = mkdtempSync(join(tmpdir(), "tskube-bench-bundle-"));
    const bundled = spawnSync(
      join(REPO_ROOT, "node_modules/.bin/tsx"),
      [join(REPO_ROOT, "scripts/bundle-image.ts"), "--outdir", outdir],
      { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "inherit"] },
    );
    if (bundled.status !== 0) throw new Error(`bundling the apiserver failed (exit ${bundled.status})`);
    entry = [join(outdir, "apiserver.mjs")];
  } else throw new Error(`BENCH_APISERVER must be bundle or source, not ${JSON.stringify(APISERVER_BUILD)}`);
  const proc = spawn(
    process.execPath,
    [
      ...(CPU_PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF_DIR}`] : []),
      ...entry,
      "--etcd-servers",
      etcd,
      "--grpc-address",
      `127.0.0.1:${grpcPort}`,
      "--http-address",
      `127.0.0.1:${httpPort}`,
    ],
    {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      // The image's environment: the bundle reads proto/ from TSKUBE_PROTO_ROOT.
      env: {
        ...process.env,
        LOG_LEVEL: "warn",
        NODE_ENV: "production",
        TSKUBE_PROTO_ROOT: join(REPO_ROOT, "proto"),
      },
    },
  );
  const log = createWriteStream(logFile);
  proc.stdout?.pipe(log);
  proc.stderr?.pipe(log);
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`apiserver exited with ${proc.exitCode}; log: ${logFile}`);
    if (
      await fetch(`${httpUrl}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline) throw new Error(`timed out waiting for apiserver (log: ${logFile})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    address: `127.0.0.1:${grpcPort}`,
    httpUrl,
    pid: proc.pid,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
}

function benchPod(name: string, namespace: string): Pod {
  return Pod.fromPartial({
    metadata: { name, namespace, labels: { app: "bench", tier: "web" } },
    spec: {
      containers: [
        {
          name: "web",
          image: "nginx:1.27",
          ports: [{ containerPort: 80 }],
          resources: { requests: { cpu: "100m", memory: "64Mi" } },
        },
      ],
    },
  });
}

async function main(): Promise<void> {
  process.env.LOG_LEVEL ??= "warn";
  const etcd = await startEtcd();
  const api = await startApiserver(etcd.endpoint);
  console.log(
    `apiserver: ${APISERVER_BUILD === "bundle" ? "the image's esbuild bundle on node (BENCH_APISERVER=source: tsx)" : "apps/apiserver/src under tsx"}`,
  );
  measured.etcd = etcdPid(etcd.dataDir);
  measured.apiserver = api.pid;
  measured.bench = process.pid;
  const raw = new Etcd3({ hosts: etcd.endpoint });
  // The apiserver's own etcd KV client, as a second baseline: the same transactions without the
  // etcd3 npm client's grpc-js overhead.
  const lean = new EtcdKv([etcd.endpoint], { timeoutMs: 30_000, connectTimeoutMs: 5_000 });
  const client = createClient({ servers: [api.address], timeoutMs: 30_000 });
  try {
    const ns = client.resource(kind("Namespace"));
    for (const n of ["bench1", "bench64", "watch", "rss"])
      await ns.create(Namespace.fromPartial({ metadata: { name: n } }));
    const pods = client.resource<Pod>(kind("Pod") as never);
    // The raw baseline writes a value of the same size as an encoded bench pod.
    const value = Buffer.from(
      kind("Pod")
        .messageType.encode(benchPod("raw-000000", "bench") as never)
        .finish(),
    );
    const rawCreate = (prefix: string) => async (i: number) => {
      const key = Buffer.from(`/bench/${prefix}/${i}`);
      await raw.kv.txn({
        compare: [{ key, target: "Mod", result: "Equal", mod_revision: 0 }],
        success: [{ request_put: { key, value } }],
        failure: [],
      });
    };
    const leanCreate = (prefix: string) => async (i: number) => {
      await lean.txn({ key: Buffer.from(`/bench/${prefix}/${i}`), modRevision: 0, put: value });
    };
    // Warm every path so JIT and connections do not count.
    await run(8, 200, rawCreate("warm"));
    await run(8, 200, leanCreate("warm-lean"));
    await run(8, 200, (i) => pods.create(benchPod(`warm-${i}`, "bench1")).then(() => undefined));
    await client.resource(kind("Pod")).deleteCollection({ namespace: "bench1" });

    console.log(
      `\ncreates (${CREATES_PER_RUN} per run at 64 clients, a quarter of that at 1, bounded to ${RUN_TIME_LIMIT_MS / 1000} s; ${ROUNDS} rounds, each running the three one after the other)`,
    );
    const results: Record<string, RunResult> = {};
    for (const c of [1, 64]) {
      const n = c === 1 ? CREATES_PER_RUN / 4 : CREATES_PER_RUN;
      const rounds: Record<"etcd" | "lean" | "api", RunResult[]> = { etcd: [], lean: [], api: [] };
      for (let r = 0; r < ROUNDS; r++) {
        rounds.etcd.push(await run(c, n, rawCreate(`c${c}-${r}`)));
        rounds.lean.push(await run(c, n, leanCreate(`lean${c}-${r}`)));
        rounds.api.push(
          await run(c, n, (i) => pods.create(benchPod(`p-${r}-${i}`, `bench${c}`)).then(() => undefined)),
        );
        if (ROUNDS > 1)
          console.log(
            `  round ${r + 1} at ${c}: etcd3 client ${rounds.etcd[r]!.perSecond.toFixed(0)}/s, apiserver's KV ${rounds.lean[r]!.perSecond.toFixed(0)}/s, apiserver ${rounds.api[r]!.perSecond.toFixed(0)}/s (${pct(rounds.api[r]!, rounds.etcd[r]!)} of the etcd3 client)`,
          );
      }
      results[`etcd${c}`] = median(rounds.etcd);
      results[`lean${c}`] = median(rounds.lean);
      results[`api${c}`] = median(rounds.api);
      const which = ROUNDS > 1 ? "median round" : "";
      console.log(
        `  raw etcd txn (etcd3 client)    ${String(c).padStart(2)} clients: ${fmt(results[`etcd${c}`]!, "bench")} ${which}`,
      );
      console.log(
        `  raw etcd txn (apiserver's KV)  ${String(c).padStart(2)} clients: ${fmt(results[`lean${c}`]!, "bench")} ${which}`,
      );
      console.log(
        `  apiserver                      ${String(c).padStart(2)} clients: ${fmt(results[`api${c}`]!, "apiserver")} ${which}`,
      );
      console.log(
        `  ratio apiserver/etcd at ${c} (medians): ${pct(results[`api${c}`]!, results[`etcd${c}`]!)} of the etcd3 client, ${pct(results[`api${c}`]!, results[`lean${c}`]!)} of the apiserver's KV client`,
      );
    }

    const cpuLine = `  apiserver CPU per create at 64 clients: ${cpu(results.api64!, "apiserver")} ms (etcd ${cpu(results.api64!, "etcd")} ms; etcd per raw txn ${cpu(results.etcd64!, "etcd")} ms)`;
    if (CREATES_ONLY) {
      console.log(`\nsummary\n${cpuLine}`);
      return;
    }

    console.log(
      `\nupdates (${UPDATES_PER_RUN} per run at ${UPDATE_CLIENTS} clients, each client updating its own object with the version it last got; ${ROUNDS} rounds)`,
    );
    // Raw: the apiserver's own client, an update transaction guarded on the key's last revision.
    const rawRevs: number[] = [];
    for (let w = 0; w < UPDATE_CLIENTS; w++)
      rawRevs.push(
        (await lean.txn({ key: Buffer.from(`/bench/upd/${w}`), modRevision: 0, put: value })).revision,
      );
    const leanUpdate = async (_: number, w: number) => {
      const res = await lean.txn({
        key: Buffer.from(`/bench/upd/${w}`),
        modRevision: rawRevs[w]!,
        put: value,
      });
      if (!res.succeeded) throw new Error(`raw update of /bench/upd/${w} lost its compare`);
      rawRevs[w] = res.revision;
    };
    await ns.create(Namespace.fromPartial({ metadata: { name: "bench-upd" } }));
    const objs: Pod[] = [];
    for (let w = 0; w < UPDATE_CLIENTS; w++) objs.push(await pods.create(benchPod(`u-${w}`, "bench-upd")));
    const apiUpdate = async (i: number, w: number) => {
      const cur = objs[w]!;
      cur.metadata!.labels = { ...cur.metadata!.labels, n: String(i) };
      objs[w] = await pods.update(cur);
    };
    await run(UPDATE_CLIENTS, 400, leanUpdate);
    await run(UPDATE_CLIENTS, 400, apiUpdate);
    const updates: Record<"lean" | "api", RunResult[]> = { lean: [], api: [] };
    let apiUpdates = 0;
    let apiEtcdCalls = 0;
    for (let r = 0; r < ROUNDS; r++) {
      updates.lean.push(await run(UPDATE_CLIENTS, UPDATES_PER_RUN, leanUpdate));
      const callsBefore = await etcdRequests(api.httpUrl);
      const apiRun = await run(UPDATE_CLIENTS, UPDATES_PER_RUN, apiUpdate);
      apiEtcdCalls += (await etcdRequests(api.httpUrl)) - callsBefore;
      apiUpdates += apiRun.ops;
      updates.api.push(apiRun);
      if (ROUNDS > 1)
        console.log(
          `  round ${r + 1}: apiserver's KV ${updates.lean[r]!.perSecond.toFixed(0)}/s, apiserver ${apiRun.perSecond.toFixed(0)}/s (${pct(apiRun, updates.lean[r]!)})`,
        );
    }
    results.leanUpdate = median(updates.lean);
    results.apiUpdate = median(updates.api);
    const tripsPerUpdate = apiEtcdCalls / Math.max(1, apiUpdates);
    const which = ROUNDS > 1 ? "median round" : "";
    console.log(
      `  raw etcd update txn (apiserver's KV) ${UPDATE_CLIENTS} clients: ${fmt(results.leanUpdate, "bench", "update")} ${which}`,
    );
    console.log(
      `  apiserver                           ${UPDATE_CLIENTS} clients: ${fmt(results.apiUpdate, "apiserver", "update")} ${which}`,
    );
    console.log(
      `  ratio apiserver/etcd (medians): ${pct(results.apiUpdate, results.leanUpdate)}; etcd round trips per apiserver update: ${tripsPerUpdate.toFixed(3)} (${apiEtcdCalls} etcd calls for ${apiUpdates} updates)`,
    );

    console.log(`\nwatch delivery with ${WATCHERS} watchers (${WATCH_EVENTS} writes)`);
    const cms = client.resource<ConfigMap>(kind("ConfigMap") as never);
    const sentAt = new Map<string, number>();
    const delivery: number[] = [];
    const ac = new AbortController();
    // One signal ends every watcher: each of them listens on it.
    setMaxListeners(WATCHERS + 10, ac.signal);
    let ready = 0;
    const watchClients = Array.from({ length: 4 }, () => createClient({ servers: [api.address] }));
    const { resourceVersion } = await cms.list({ namespace: "watch" });
    const watchers = Array.from({ length: WATCHERS }, async (_, w) => {
      const wc = watchClients[w % watchClients.length]!.resource<ConfigMap>(kind("ConfigMap") as never);
      ready++;
      for await (const ev of wc.watch({ namespace: "watch", resourceVersion, signal: ac.signal })) {
        const t = sentAt.get(ev.object.metadata!.name);
        if (ev.type === "ADDED" && t !== undefined) delivery.push(performance.now() - t);
      }
    });
    while (ready < WATCHERS) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < WATCH_EVENTS; i++) {
      const name = `w-${i}`;
      sentAt.set(name, performance.now());
      await cms.create(
        ConfigMap.fromPartial({ metadata: { name, namespace: "watch" }, data: { i: String(i) } }),
      );
      await new Promise((r) => setTimeout(r, 5));
    }
    const deadline = Date.now() + 10_000;
    while (delivery.length < WATCHERS * WATCH_EVENTS && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await Promise.allSettled(watchers);
    for (const wc of watchClients) wc.close();
    delivery.sort((a, b) => a - b);
    console.log(
      `  delivered ${delivery.length}/${WATCHERS * WATCH_EVENTS} events; write→delivery p50 ${percentile(delivery, 50).toFixed(2)} ms, p99 ${percentile(delivery, 99).toFixed(2)} ms`,
    );

    console.log(`\napiserver memory with ${RSS_OBJECTS} more objects`);
    await run(64, RSS_OBJECTS, (i) => pods.create(benchPod(`rss-${i}`, "rss")).then(() => undefined));
    const metrics = await (await fetch(`${api.httpUrl}/metrics`)).text();
    const rss = Number(/^process_resident_memory_bytes (\S+)$/m.exec(metrics)?.[1] ?? Number.NaN);
    const total = (await pods.list({ resourceVersion: "0" })).items.length;
    console.log(`  objects stored: ${total} pods; apiserver RSS ${(rss / 1024 / 1024).toFixed(0)} MiB`);

    console.log("\nsummary");
    console.log(
      `  create throughput at 64 clients: ${results.api64!.perSecond.toFixed(0)}/s, ${pct(results.api64!, results.lean64!)} of raw etcd through the apiserver's KV client, ${results.lean64!.perSecond.toFixed(0)}/s (target >= 60 %); ${pct(results.api64!, results.etcd64!)} of the etcd3 client's`,
    );
    console.log(
      `  update throughput at ${UPDATE_CLIENTS} clients: ${results.apiUpdate!.perSecond.toFixed(0)}/s, ${pct(results.apiUpdate!, results.leanUpdate!)} of raw etcd through the apiserver's KV client, ${results.leanUpdate!.perSecond.toFixed(0)}/s (target >= 50 %)`,
    );
    console.log(`  etcd round trips per update: ${tripsPerUpdate.toFixed(3)} (target 1)`);
    console.log(cpuLine);
    console.log(
      `  watch p99 with ${WATCHERS} watchers: ${percentile(delivery, 99).toFixed(2)} ms (target <= 50 ms)`,
    );
  } finally {
    client.close();
    raw.close();
    lean.close();
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
