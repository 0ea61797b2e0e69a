/**
 * pnpm bench:proxy — kube-proxy's network programming latency and data-path cost, both modes.
 *
 * SERVICES Services × ENDPOINTS endpoints through a real etcd, apiserver and kube-proxy process.
 * Programming latency: CHANGES Endpoints updates, one at a time; each is timed from the write until
 * it is in place — for iptables, its endpoint rule visible in `iptables -S <its KUBE-SVC chain>` (one
 * chain of iptables-save) in the node's network namespace; for userspace, a connection to the ClusterIP reaching the new endpoint. Data path:
 * REQUESTS HTTP requests (each on a new connection, CONCURRENCY at a time) straight to a pod and
 * through a ClusterIP, alternated for ROUNDS rounds; requests/s and p50/p99 latency of the median
 * rounds, and the latency the proxy adds. The iptables
 * phase needs root (network namespaces, as the integration test builds them) and is skipped
 * otherwise. Every loop is bounded in count and in time (PHASE_LIMIT_MS).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { createWriteStream, mkdtempSync } from "node:fs";
import { createServer as createHttpServer, request, type Server } from "node:http";
import { connect, createServer as createNetServer, type Server as NetServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { Endpoints, KINDS, Service } from "@tskube/api";
import { createClient } from "@tskube/client";
import { servicePortChainName } from "../apps/kube-proxy/src/hash.js";
import { REPO_ROOT, startApiserver, startComponent, startEtcd } from "../test/integration/src/harness.js";
import { parallel } from "./util.js";

const SERVICES = Number(process.env.BENCH_SERVICES ?? 1000);
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 10);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 40);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const PHASE_LIMIT_MS = Number(process.env.BENCH_PHASE_LIMIT_MS ?? 180_000);
const TARGET_PROGRAMMING_P99_MS = 1000;
const TARGET_IPTABLES_ADDED = 0.1;

const execFileAsync = promisify(execFile);
const kind = (k: string) => KINDS.find((x) => x.kind === k)! as never;
const pct = (s: number[], p: number) => {
  const v = [...s].sort((a, b) => a - b);
  return v.length ? v[Math.min(v.length - 1, Math.floor((p / 100) * v.length))]! : Number.NaN;
};
const ms = (v: number) => `${v.toFixed(1)} ms`;
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

function endpoints(ns: string, name: string, ips: string[], port: number): Endpoints {
  return Endpoints.fromPartial({
    metadata: { namespace: ns, name },
    subsets: [{ addresses: ips.map((ip) => ({ ip })), ports: [{ name: "http", port, protocol: "TCP" }] }],
  });
}

/** The load script, run here (userspace) or in the client namespace (iptables): prints JSON stats. */
const LOAD_SCRIPT = `
const http = require("http");
const [host, port, n, conc, limit] = process.argv.slice(1);
const lat = []; let errors = 0; let next = 0; const t0 = performance.now(); const end = t0 + Number(limit);
const one = () => new Promise((res) => { const s = performance.now();
  const req = http.get({ host, port: Number(port), agent: false, timeout: 5000 }, (r) => { r.resume(); r.on("end", () => { lat.push(performance.now() - s); res(); }); });
  req.on("timeout", () => req.destroy(new Error("timeout"))); req.on("error", () => { errors++; res(); }); });
Promise.all(Array.from({ length: Number(conc) }, async () => { while (next < Number(n) && performance.now() < end) { next++; await one(); } }))
  .then(() => { const secs = (performance.now() - t0) / 1000; lat.sort((a, b) => a - b);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    console.log(JSON.stringify({ n: lat.length, errors, rps: lat.length / secs, p50: q(0.5), p99: q(0.99) })); });
`;
interface LoadResult {
  n: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
}
/** Runs the load script as its own process (the userspace backends live in this one and must keep serving). */
async function load(prefix: string[], host: string, port: number): Promise<LoadResult> {
  const [cmd, ...args] = [...prefix, process.execPath];
  const { stdout } = await execFileAsync(
    cmd!,
    [
      ...args,
      "-e",
      LOAD_SCRIPT,
      host,
      String(port),
      String(REQUESTS),
      String(CONCURRENCY),
      String(PHASE_LIMIT_MS / 4),
    ],
    { maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout) as LoadResult;
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

interface DataPath {
  direct: LoadResult[];
  proxied: LoadResult[];
}

/**
 * Alternates ROUNDS loads straight to the pod and through the ClusterIP, so a drift in the
 * machine's load hits both sides alike; the medians of the rounds are compared.
 */
async function dataPath(
  prefix: string[],
  direct: [string, number],
  proxied: [string, number],
): Promise<DataPath> {
  const out: DataPath = { direct: [], proxied: [] };
  for (let i = 0; i < ROUNDS; i++) {
    out.direct.push(await load(prefix, ...direct));
    out.proxied.push(await load(prefix, ...proxied));
  }
  return out;
}

/** The round with the median p50 latency. */
const medianRound = (rs: LoadResult[]) => [...rs].sort((a, b) => a.p50 - b.p50)[Math.floor(rs.length / 2)]!;

function report(mode: string, programming: number[], path: DataPath, target?: number) {
  const direct = medianRound(path.direct);
  const proxied = medianRound(path.proxied);
  const added = (proxied.p50 - direct.p50) / direct.p50;
  console.log(`\n== ${mode} mode: ${SERVICES} services × ${ENDPOINTS} endpoints`);
  console.log(
    `network programming latency (endpoint change → in place), ${programming.length} changes: p50 ${ms(pct(programming, 50))}  p99 ${ms(pct(programming, 99))}  max ${ms(Math.max(...programming))}  (target p99 <= ${TARGET_PROGRAMMING_P99_MS} ms: ${pct(programming, 99) <= TARGET_PROGRAMMING_P99_MS ? "met" : "MISSED"})`,
  );
  for (const [what, r] of [
    ["direct to pod", direct],
    ["through ClusterIP", proxied],
  ] as const)
    console.log(
      `  ${what.padEnd(18)} median of ${ROUNDS} rounds: ${r.n} requests (${r.errors} errors), ${r.rps.toFixed(0)} req/s, latency p50 ${ms(r.p50)} p99 ${ms(r.p99)}`,
    );
  console.log(
    `  p50 by round: direct ${path.direct.map((r) => r.p50.toFixed(2)).join(" ")} ms; ClusterIP ${path.proxied.map((r) => r.p50.toFixed(2)).join(" ")} ms; errors ${[...path.direct, ...path.proxied].reduce((n, r) => n + r.errors, 0)}`,
  );
  console.log(
    `  added latency at p50 (medians): ${ms(proxied.p50 - direct.p50)} (${(added * 100).toFixed(1)} %)${target !== undefined ? `  (target <= ${target * 100} %: ${added <= target ? "met" : "MISSED"})` : ""}`,
  );
}

async function createServices(
  client: ReturnType<typeof createClient>,
  ns: string,
  ips: string[],
  port: number,
): Promise<string[]> {
  const clusterIps: string[] = new Array(SERVICES);
  await parallel(SERVICES, 32, async (i) => {
    const svc = await client.resource<Service>(kind("Service")).create(
      Service.fromPartial({
        metadata: { namespace: ns, name: `svc-${i}` },
        spec: { ports: [{ name: "http", port: 80, targetPort: String(port), protocol: "TCP" }] },
      }),
    );
    clusterIps[i] = svc.spec?.clusterIp ?? "";
    await client.resource<Endpoints>(kind("Endpoints")).create(endpoints(ns, `svc-${i}`, ips, port));
  });
  return clusterIps;
}

/** Measures CHANGES endpoint changes: writes change(k) and waits for inPlace(k), bounded. */
async function programming(
  client: ReturnType<typeof createClient>,
  ns: string,
  change: (k: number) => { service: number; ips: string[] },
  port: number,
  inPlace: (k: number, service: number) => Promise<boolean>,
): Promise<number[]> {
  const out: number[] = [];
  const deadline = Date.now() + PHASE_LIMIT_MS;
  const eps = client.resource<Endpoints>(kind("Endpoints"));
  for (let k = 0; k < CHANGES && Date.now() < deadline; k++) {
    const { service, ips } = change(k);
    const cur = await eps.get(`svc-${service}`, { namespace: ns });
    const t0 = performance.now();
    await eps.update({ ...endpoints(ns, `svc-${service}`, ips, port), metadata: cur.metadata });
    const limit = Date.now() + 10_000;
    while (!(await inPlace(k, service))) {
      if (Date.now() > limit) throw new Error(`change ${k} not in place after 10 s`);
      await sleep(2);
    }
    out.push(performance.now() - t0);
    // Changes one at a time, apart, as rollouts touch Endpoints: not one burst.
    await sleep(200);
  }
  return out;
}

async function userspace(): Promise<void> {
  const etcd = await startEtcd();
  const api = await startApiserver(etcd.endpoint, {
    extraArgs: ["--service-cluster-ip-range", "127.96.0.0/16"],
    env: { LOG_LEVEL: "warn" },
  });
  const client = createClient({ servers: [api.address], timeoutMs: 30_000 });
  const servers: Server[] = [];
  const answering = (ip: string, body: string) =>
    new Promise<Server>((r) => {
      const s = createHttpServer((_q, res) => res.end(body));
      s.listen(18080, ip, () => r(s));
    });
  const ips = Array.from({ length: ENDPOINTS }, (_, i) => `127.0.77.${i + 1}`);
  for (const ip of ips) servers.push(await answering(ip, "pod"));
  const markers = Array.from({ length: CHANGES }, (_, k) => `127.0.78.${k + 1}`);
  for (const [k, ip] of markers.entries()) servers.push(await answering(ip, `marker-${k}`));
  const proxy = await startComponent(
    "kube-proxy",
    ["--server", api.address, "--proxy-mode", "userspace", "--nodeport-addresses", "127.0.0.1/32"],
    { LOG_LEVEL: "warn" },
  );
  try {
    const t0 = performance.now();
    const clusterIps = await createServices(client, "default", ips, 18080);
    console.log(`userspace: ${SERVICES} services created in ${ms(performance.now() - t0)}`);
    const body = (host: string) =>
      new Promise<string>((res) => {
        const req = request({ host, port: 80, agent: false, timeout: 2000 }, (r) => {
          let b = "";
          r.on("data", (d) => {
            b += d;
          });
          r.on("end", () => res(b));
        });
        req.on("error", () => res(""));
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.end();
      });
    const last = clusterIps[SERVICES - 1]!;
    const ready = Date.now() + PHASE_LIMIT_MS;
    while ((await body(last)) !== "pod") {
      if (Date.now() > ready) throw new Error("userspace listeners never came up");
      await sleep(50);
    }
    const lat = await programming(
      client,
      "default",
      (k) => ({ service: (k * 37) % SERVICES, ips: [markers[k]!] }),
      18080,
      async (k, service) => (await body(clusterIps[service]!)) === `marker-${k}`,
    );
    report("userspace", lat, await dataPath([], [ips[0]!, 18080], [clusterIps[0]!, 80]));
  } finally {
    await proxy.stop();
    for (const s of servers) s.close();
    client.close();
    await api.stop();
    await etcd.stop();
  }
}

const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 }).toString();

async function iptables(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log("\n== iptables mode: skipped (needs root for network namespaces and iptables)");
    return;
  }
  const s = String(process.pid % 10000);
  const node = `tkb-node-${s}`;
  const cli = `tkb-cli-${s}`;
  const pod = `tkb-pod-${s}`;
  const net = "10.231";
  const inNs = (ns: string, cmd: string, args: string[]) => sh("ip", ["netns", "exec", ns, cmd, ...args]);
  const children: ChildProcess[] = [];
  const logDir = mkdtempSync(join(tmpdir(), "tskube-bench-proxy-"));
  const cleanup = () => {
    for (const c of children) c.kill("SIGKILL");
    for (const n of [node, cli, pod])
      try {
        sh("ip", ["netns", "del", n]);
      } catch {
        // Not there.
      }
  };
  cleanup();
  const etcd = await startEtcd();
  const api = await startApiserver(etcd.endpoint, { env: { LOG_LEVEL: "warn" } });
  const client = createClient({ servers: [api.address], timeoutMs: 30_000 });
  let relay: NetServer | undefined;
  try {
    for (const n of [node, cli, pod]) {
      sh("ip", ["netns", "add", n]);
      inNs(n, "ip", ["link", "set", "lo", "up"]);
    }
    const link = (peer: string, i: number, peerIps: string[], nodeIp: string) => {
      sh("ip", ["link", "add", `tbn${i}-${s}`, "type", "veth", "peer", "name", `tbp${i}-${s}`]);
      sh("ip", ["link", "set", `tbn${i}-${s}`, "netns", node]);
      sh("ip", ["link", "set", `tbp${i}-${s}`, "netns", peer]);
      inNs(node, "ip", ["addr", "add", `${nodeIp}/24`, "dev", `tbn${i}-${s}`]);
      inNs(node, "ip", ["link", "set", `tbn${i}-${s}`, "up"]);
      for (const ip of peerIps) inNs(peer, "ip", ["addr", "add", `${ip}/24`, "dev", `tbp${i}-${s}`]);
      inNs(peer, "ip", ["link", "set", `tbp${i}-${s}`, "up"]);
      inNs(peer, "ip", ["route", "add", "default", "via", nodeIp]);
    };
    const ips = Array.from({ length: ENDPOINTS }, (_, i) => `${net}.1.${i + 2}`);
    const markers = Array.from({ length: CHANGES }, (_, k) => `${net}.1.${100 + k}`);
    link(cli, 0, [`${net}.0.2`], `${net}.0.1`);
    link(pod, 1, [...ips, ...markers], `${net}.1.1`);
    inNs(node, "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
    const backend = spawn(
      "ip",
      [
        "netns",
        "exec",
        pod,
        process.execPath,
        "-e",
        `require("http").createServer((q,s)=>s.end("pod")).listen(8080)`,
      ],
      { stdio: "ignore" },
    );
    children.push(backend);
    // The node namespace reaches the apiserver through a veth to the host and a relay there.
    sh("ip", ["link", "add", `tbh-${s}`, "type", "veth", "peer", "name", `tbq-${s}`]);
    sh("ip", ["link", "set", `tbq-${s}`, "netns", node]);
    sh("ip", ["addr", "add", `${net}.254.1/30`, "dev", `tbh-${s}`]);
    sh("ip", ["link", "set", `tbh-${s}`, "up"]);
    inNs(node, "ip", ["addr", "add", `${net}.254.2/30`, "dev", `tbq-${s}`]);
    inNs(node, "ip", ["link", "set", `tbq-${s}`, "up"]);
    const [host, port] = api.address.split(":") as [string, string];
    relay = createNetServer((inbound) => {
      const out = connect({ host, port: Number(port) });
      inbound.pipe(out).pipe(inbound);
      inbound.on("error", () => out.destroy());
      out.on("error", () => inbound.destroy());
    });
    await new Promise<void>((r) => relay!.listen(0, `${net}.254.1`, () => r()));
    const relayAddr = `${net}.254.1:${(relay.address() as { port: number }).port}`;

    const t0 = performance.now();
    const clusterIps = await createServices(client, "default", ips, 8080);
    console.log(`\niptables: ${SERVICES} services created in ${ms(performance.now() - t0)}`);
    const proxy = spawn(
      "ip",
      [
        "netns",
        "exec",
        node,
        process.execPath,
        "--import",
        "tsx",
        "apps/kube-proxy/src/main.ts",
        "--server",
        relayAddr,
        "--proxy-mode",
        "iptables",
        "--http-address",
        "127.0.0.1:10256",
      ],
      { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOG_LEVEL: "warn" } },
    );
    children.push(proxy);
    const log = createWriteStream(join(logDir, "kube-proxy.log"));
    proxy.stdout?.pipe(log);
    proxy.stderr?.pipe(log);
    const save = () => inNs(node, "iptables-save", ["-t", "nat"]);
    const ready = Date.now() + PHASE_LIMIT_MS;
    while (!save().includes(clusterIps[SERVICES - 1]!)) {
      if (Date.now() > ready) throw new Error(`rules never appeared (log: ${logDir}/kube-proxy.log)`);
      await sleep(200);
    }
    const ts = performance.now();
    const text = save();
    const saveMs = performance.now() - ts;
    console.log(
      `iptables: ${text.split("\n").filter((l) => l.startsWith("-A KUBE-")).length} KUBE-* nat rules; one iptables-save takes ${ms(saveMs)}`,
    );
    const lat = await programming(
      client,
      "default",
      (k) => ({ service: (k * 37) % SERVICES, ips: [...ips.slice(1), markers[k]!] }),
      8080,
      // The service's own chain (iptables -S, the iptables-save form of one chain): a whole
      // iptables-save of ~30,000 rules takes longer than the sync it would be timing.
      async (k, service) =>
        inNs(node, "iptables", [
          "-w",
          "5",
          "-t",
          "nat",
          "-S",
          servicePortChainName(`default/svc-${service}:http`, "tcp"),
        ]).includes(`${markers[k]}:8080`),
    );
    // kube-proxy's own view: how long its syncs (render + iptables-restore) took on average.
    const metrics = await new Promise<string>((resolve) => {
      execFile("ip", ["netns", "exec", node, "curl", "-s", "http://127.0.0.1:10256/metrics"], (_e, out) =>
        resolve(out ?? ""),
      );
    });
    const metric = (m: string) => Number(metrics.match(new RegExp(`^${m} (\\S+)$`, "m"))?.[1] ?? Number.NaN);
    const syncs = metric("kubeproxy_sync_proxy_rules_duration_seconds_count");
    console.log(
      `iptables: kube-proxy's own syncs: ${syncs} taking ${ms((1000 * metric("kubeproxy_sync_proxy_rules_duration_seconds_sum")) / syncs)} on average (the first one a full rewrite)`,
    );
    const prefix = ["ip", "netns", "exec", cli];
    report(
      "iptables",
      lat,
      await dataPath(prefix, [ips[0]!, 8080], [clusterIps[0]!, 80]),
      TARGET_IPTABLES_ADDED,
    );
  } finally {
    cleanup();
    relay?.close();
    client.close();
    await api.stop();
    await etcd.stop();
  }
}

async function main(): Promise<void> {
  console.log(
    `bench:proxy — load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  await userspace();
  await iptables();
}

await main();
process.exit(0);
