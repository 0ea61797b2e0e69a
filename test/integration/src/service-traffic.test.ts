import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, mkdtempSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Endpoints, KINDS, type Pod, type ReplicaSet, Service } from "@tskube/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import {
  type ComponentHandle,
  freePort,
  ktl,
  REPO_ROOT,
  startComponent,
  startControllerManager,
  waitFor,
} from "./harness.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)! as never;
const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

/**
 * The workload: what a Kubernetes user writes for zero downtime. It answers `<RELEASE> <pod name>
 * <port>` on every port in PORTS (the pod IP from the process runtime), says 503 on everything
 * until WARMUP_MS passed (so a pod that got traffic before its readinessProbe passed shows up as a
 * failed request), and on SIGTERM stops accepting and exits once its open requests are answered.
 */
const APP = `
const http = require("http");
const started = Date.now();
const warmup = Number(process.env.WARMUP_MS || 0);
const delay = Number(process.env.DELAY_MS || 0);
const servers = (process.env.PORTS || "8080").split(",").map((port) => {
  const srv = http.createServer((q, r) => {
    if (Date.now() - started < warmup) { r.statusCode = 503; r.end("warming up"); return; }
    if (q.url === "/healthz") { r.end("ok"); return; }
    setTimeout(() => r.end(process.env.RELEASE + " " + process.env.POD_NAME + " " + port), delay);
  });
  srv.listen(Number(port), process.env.TSKUBE_POD_IP);
  return srv;
});
process.on("SIGTERM", () => {
  let open = servers.length;
  for (const s of servers) s.close(() => { if (--open === 0) process.exit(0); });
  setTimeout(() => process.exit(0), 5000).unref();
});
`;

interface AppOptions {
  name: string;
  labels: Record<string, string>;
  replicas: number;
  release: string;
  ports?: { name: string; containerPort: number }[];
  warmupMs?: number;
  delayMs?: number;
  preStopSleepSeconds?: number;
}

/** A Deployment manifest (JSON is YAML) running APP with the process runtime. */
function deployment(o: AppOptions): string {
  const ports = o.ports ?? [{ name: "web", containerPort: 8080 }];
  return JSON.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: o.name, labels: o.labels },
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: o.labels },
      template: {
        metadata: { labels: o.labels },
        spec: {
          terminationGracePeriodSeconds: 10,
          containers: [
            {
              name: "app",
              image: "node:20",
              command: [process.execPath, "-e", APP],
              env: [
                { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                { name: "RELEASE", value: o.release },
                { name: "PORTS", value: ports.map((p) => p.containerPort).join(",") },
                { name: "WARMUP_MS", value: String(o.warmupMs ?? 0) },
                { name: "DELAY_MS", value: String(o.delayMs ?? 0) },
              ],
              ports,
              readinessProbe: { httpGet: { path: "/healthz", port: ports[0]!.name }, periodSeconds: 1 },
              ...(o.preStopSleepSeconds
                ? { lifecycle: { preStop: { sleep: { seconds: o.preStopSleepSeconds } } } }
                : {}),
            },
          ],
        },
      },
    },
  });
}

interface Reply {
  status: number;
  body: string;
}

/** One GET on a fresh connection (separate clients), as status and body or the error. */
function get(host: string, port: number, path = "/"): Promise<Reply> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", (err) => resolve({ status: 0, body: `error: ${err.message}` }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) =>
      resolve({ status: 0, body: `error: ${(err as NodeJS.ErrnoException).code ?? err.message}` }),
    );
    req.end();
  });
}

async function bodies(host: string, port: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await get(host, port);
    out.push(r.status === 200 ? r.body : `${r.status} ${r.body}`);
  }
  return out;
}

const released = (body: string) => body.split(" ")[0] ?? "";
const podOf = (body: string) => body.split(" ")[1] ?? "";

/**
 * A client loop that runs until stopped, bounded by a request count and a time limit so it ends by
 * itself: `workers` sequential requests at a time, each on a new connection. Every answer is kept
 * in order, failures with what went wrong.
 */
function clientLoop(host: string, port: number, o: { workers: number; maxRequests: number; maxMs: number }) {
  const replies: { at: number; ok: boolean; body: string }[] = [];
  let stopped = false;
  const deadline = Date.now() + o.maxMs;
  const worker = async () => {
    while (!stopped && replies.length < o.maxRequests && Date.now() < deadline) {
      const r = await get(host, port);
      replies.push({
        at: Date.now(),
        ok: r.status === 200,
        body: r.status === 200 ? r.body : `${r.status} ${r.body}`,
      });
    }
  };
  const done = Promise.all(Array.from({ length: o.workers }, worker));
  return {
    replies,
    async stop() {
      stopped = true;
      await done;
      return replies;
    },
  };
}

/**
 * Real etcd, apiserver, scheduler, controller-manager, a kubelet with the process runtime (each
 * pod a loopback address) and kube-proxy in userspace mode on a loopback service CIDR, so every
 * request below goes client → kube-proxy → pod process.
 */
describe("Service traffic through kube-proxy (userspace mode, process runtime)", () => {
  const x = rand(100, 119);
  const c = useCluster({ apiserverArgs: ["--service-cluster-ip-range", `127.${x}.0.0/16`] });
  const nodePortAddress = `127.${x + 40}.0.1`;
  const procs: ComponentHandle[] = [];
  const server = () => c.servers.join(",");
  const apply = async (manifest: string) => {
    const r = await ktl(server(), ["apply", "-f", "-"], manifest);
    expect(r.code, r.stderr).toBe(0);
  };
  const services = () => c.client.resource<Service>(kind("Service"));
  const endpointsOf = (name: string) =>
    c.client.resource<Endpoints>(kind("Endpoints")).get(name, { namespace: "default" });
  const readyIps = async (name: string) =>
    (await endpointsOf(name).catch(() => undefined))?.subsets
      .flatMap((s) => s.addresses.map((a) => a.ip))
      .sort() ?? [];
  const podsOf = async (selector: string) =>
    (await c.client.resource<Pod>(kind("Pod")).list({ namespace: "default", labelSelector: selector })).items;
  const rolledOut = async (name: string) => {
    const r = await ktl(server(), ["rollout", "status", `deployment/${name}`, "--timeout", "120s"]);
    expect(r.code, r.stderr).toBe(0);
  };

  beforeAll(async () => {
    procs.push(await startComponent("scheduler", ["--server", server(), "--leader-elect", "false"]));
    procs.push(await startControllerManager(c.servers, "cm-traffic"));
    procs.push(
      await startComponent("kubelet", [
        "--server",
        server(),
        "--node-name",
        "node-traffic",
        "--pod-cidr",
        `127.${x + 20}.0.0/16`,
        "--process-isolation",
        "none",
        "--root-dir",
        mkdtempSync(join(tmpdir(), "tskube-kubelet-")),
        "--port",
        String(await freePort()),
        "--pleg-relist-period",
        "200ms",
      ]),
    );
    procs.push(
      await startComponent("kube-proxy", [
        "--server",
        server(),
        "--proxy-mode",
        "userspace",
        "--hostname-override",
        "node-traffic",
        "--nodeport-addresses",
        `${nodePortAddress}/32`,
      ]),
    );
  });
  afterAll(async () => {
    for (const name of ["web-0", "web-0-5", "roll", "multi"])
      await ktl(server(), ["delete", "deployment", name, "--ignore-not-found"]);
    await ktl(server(), ["delete", "pod", "hooks", "--ignore-not-found"]);
    await waitFor("the pods to go", async () => (await podsOf("")).length === 0, 60_000).catch(
      () => undefined,
    );
    for (const p of procs.reverse()) await p.stop();
  });

  it("blue/green: a Service on release 0 sends everything there, and after its selector moves to 0-5 only to 0-5", async () => {
    await apply(
      deployment({ name: "web-0", labels: { app: "bg", release: "0" }, replicas: 2, release: "0" }),
    );
    await apply(
      deployment({ name: "web-0-5", labels: { app: "bg", release: "0-5" }, replicas: 1, release: "0-5" }),
    );
    const svc = (release: string) =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "bg" },
        spec: { selector: { app: "bg", release }, ports: [{ name: "http", port: 80, targetPort: "web" }] },
      });
    await apply(svc("0"));
    await rolledOut("web-0");
    await rolledOut("web-0-5");
    const clusterIp = (await services().get("bg", { namespace: "default" })).spec!.clusterIp;
    const old = (await podsOf("release=0")).map((p) => p.status!.podIp).sort();
    await waitFor(
      "both release 0 pods in the Endpoints",
      async () => (await readyIps("bg")).join() === old.join(),
    );
    await waitFor("the ClusterIP to answer", async () => (await get(clusterIp, 80)).status === 200);
    const before = await bodies(clusterIp, 80, 40);
    expect(new Set(before.map(released))).toEqual(new Set(["0"]));
    // Round-robin over both release 0 pods.
    expect(new Set(before.map(podOf)).size).toBe(2);

    await apply(svc("0-5"));
    const fresh = (await podsOf("release=0-5")).map((p) => p.status!.podIp);
    await waitFor(
      "the Endpoints to hold only release 0-5",
      async () => (await readyIps("bg")).join() === fresh.join(),
    );
    await waitFor("kube-proxy to follow", async () => released((await get(clusterIp, 80)).body) === "0-5");
    const after = await bodies(clusterIp, 80, 40);
    expect(new Set(after.map(released))).toEqual(new Set(["0-5"]));
    // The release 0 pods still run; they just get nothing.
    expect((await podsOf("release=0")).filter((p) => p.status?.phase === "Running")).toHaveLength(2);
  });

  it("rolls a 3-replica Deployment behind a NodePort under continuous requests without one failing", async () => {
    // The template a user writes for zero downtime: a readinessProbe, a warm-up, a preStop sleep
    // so the endpoint is gone everywhere before SIGTERM, and an app that drains on SIGTERM.
    const app = (release: string) =>
      deployment({
        name: "roll",
        labels: { app: "roll" },
        replicas: 3,
        release,
        warmupMs: 1500,
        delayMs: 20,
        preStopSleepSeconds: 2,
      });
    await apply(app("v1"));
    const created = await services().create(
      Service.fromPartial({
        metadata: { name: "roll", namespace: "default" },
        spec: {
          type: "NodePort",
          selector: { app: "roll" },
          ports: [{ name: "http", port: 80, targetPort: "web" }],
        },
      }),
    );
    const nodePort = created.spec!.ports[0]!.nodePort;
    await rolledOut("roll");
    await waitFor("3 ready endpoints", async () => (await readyIps("roll")).length === 3, 60_000);
    await waitFor(
      "the NodePort to answer",
      async () => (await get(nodePortAddress, nodePort)).status === 200,
    );
    const oldPods = new Set((await podsOf("app=roll")).map((p) => p.metadata!.name));

    const loop = clientLoop(nodePortAddress, nodePort, { workers: 3, maxRequests: 20_000, maxMs: 150_000 });
    // A template change (the release env) as `ktl apply` of the edited manifest, then rollout status.
    await apply(app("v2"));
    await rolledOut("roll");
    // A little more traffic after the rollout, then the loop ends.
    const seenAfter = loop.replies.length;
    await waitFor("requests after the rollout", async () => loop.replies.length >= seenAfter + 30, 30_000);
    const replies = await loop.stop();

    const failures = replies.filter((r) => !r.ok).map((r) => r.body);
    expect(failures).toEqual([]);
    // rollout status is done once the new pods are available; old ones may still be terminating.
    const newPods = new Set(
      (await podsOf("app=roll")).filter((p) => !p.metadata!.deletionTimestamp).map((p) => p.metadata!.name),
    );
    expect(newPods.size).toBe(3);
    for (const p of newPods) expect(oldPods.has(p)).toBe(false);
    // Traffic went to the old release, then the new one, and only to pods of the Deployment.
    const releases = replies.map((r) => released(r.body));
    expect(releases[0]).toBe("v1");
    expect(releases.slice(-20)).toEqual(Array(20).fill("v2"));
    for (const r of replies) expect(oldPods.has(podOf(r.body)) || newPods.has(podOf(r.body))).toBe(true);
    // The old ReplicaSet is scaled to zero.
    const sets = (
      await c.client.resource<ReplicaSet>(kind("ReplicaSet")).list({ namespace: "default" })
    ).items.filter((rs) => rs.metadata!.name.startsWith("roll-"));
    expect(sets.map((rs) => rs.status?.replicas ?? 0).sort()).toEqual([0, 3]);
    console.log(`rolling update: ${replies.length} requests, ${failures.length} failed`);
  });

  it("multi-port named Service with targetPorts by name, ClientIP affinity, and a headless Service", async () => {
    await apply(
      deployment({
        name: "multi",
        labels: { app: "multi" },
        replicas: 2,
        release: "m",
        ports: [
          { name: "web", containerPort: 8080 },
          { name: "admin", containerPort: 9090 },
        ],
      }),
    );
    const svc = (affinity: string) =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "multi" },
        spec: {
          selector: { app: "multi" },
          sessionAffinity: affinity,
          ports: [
            { name: "http", port: 80, targetPort: "web" },
            { name: "admin", port: 9000, targetPort: "admin" },
          ],
        },
      });
    await apply(svc("ClientIP"));
    await apply(
      JSON.stringify({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "multi-headless" },
        spec: {
          clusterIP: "None",
          selector: { app: "multi" },
          ports: [{ name: "http", port: 80, targetPort: "web" }],
        },
      }),
    );
    await rolledOut("multi");
    const ips = (await podsOf("app=multi")).map((p) => p.status!.podIp).sort();
    await waitFor("both pods in the Endpoints", async () => (await readyIps("multi")).join() === ips.join());
    const ep = await endpointsOf("multi");
    expect(ep.subsets).toHaveLength(1);
    expect(ep.subsets[0]!.ports.map((p) => `${p.name}:${p.port}`).sort()).toEqual([
      "admin:9090",
      "http:8080",
    ]);

    const s = await services().get("multi", { namespace: "default" });
    const ip = s.spec!.clusterIp;
    expect(s.spec!.sessionAffinityConfig?.clientIp?.timeoutSeconds).toBe(10800);
    await waitFor("both service ports to answer", async () =>
      (await Promise.all([get(ip, 80), get(ip, 9000)])).every((r) => r.status === 200),
    );
    // Each service port reaches its own named container port; ClientIP keeps this client on one pod.
    const web = await bodies(ip, 80, 20);
    expect(new Set(web.map((b) => b.split(" ")[2]))).toEqual(new Set(["8080"]));
    expect(new Set(web.map(podOf)).size).toBe(1);
    const admin = await bodies(ip, 9000, 20);
    expect(new Set(admin.map((b) => b.split(" ")[2]))).toEqual(new Set(["9090"]));
    expect(new Set(admin.map(podOf)).size).toBe(1);

    // Without affinity the same client is spread over both pods.
    await apply(svc("None"));
    await waitFor("affinity off", async () => new Set((await bodies(ip, 80, 6)).map(podOf)).size === 2);
    expect(new Set((await bodies(ip, 80, 20)).map(podOf)).size).toBe(2);

    // Headless: no ClusterIP, Endpoints labelled as such with the same pods (DNS answers them; see dns.test.ts).
    const headless = await services().get("multi-headless", { namespace: "default" });
    expect(headless.spec!.clusterIp).toBe("None");
    await waitFor(
      "the headless Endpoints",
      async () => (await readyIps("multi-headless")).join() === ips.join(),
    );
    expect((await endpointsOf("multi-headless")).metadata!.labels).toMatchObject({
      "service.kubernetes.io/headless": "",
    });
  });
  it("runs each container's preStop hook (exec, httpGet) before its SIGTERM when the pod is deleted", async () => {
    const marker = join(mkdtempSync(join(tmpdir(), "tskube-prestop-")), "order");
    // Each container notes its hook and its SIGTERM in one file the test reads afterwards.
    const script = `const fs = require("fs");
require("http").createServer((q, r) => {
  if (q.url === "/prestop") fs.appendFileSync(process.env.MARKER, process.env.NAME + " prestop-http\\n");
  r.end("ok");
}).listen(Number(process.env.PORT), process.env.TSKUBE_POD_IP);
process.on("SIGTERM", () => { fs.appendFileSync(process.env.MARKER, process.env.NAME + " sigterm\\n"); process.exit(0); });`;
    const container = (name: string, port: number, preStop: Record<string, unknown>) => ({
      name,
      image: "node:20",
      command: [process.execPath, "-e", script],
      env: [
        { name: "MARKER", value: marker },
        { name: "NAME", value: name },
        { name: "PORT", value: String(port) },
      ],
      ports: [{ name: `${name}-admin`, containerPort: port }],
      readinessProbe: { tcpSocket: { port: `${name}-admin` }, periodSeconds: 1 },
      lifecycle: { preStop },
    });
    await apply(
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "hooks" },
        spec: {
          terminationGracePeriodSeconds: 10,
          containers: [
            container("a", 8081, { exec: { command: ["sh", "-c", `echo a prestop-exec >> ${marker}`] } }),
            container("b", 8082, { httpGet: { path: "/prestop", port: "b-admin" } }),
          ],
        },
      }),
    );
    await waitFor(
      "the pod ready",
      async () =>
        (
          await c.client.resource<Pod>(kind("Pod")).get("hooks", { namespace: "default" })
        ).status?.conditions.some((x) => x.type === "Ready" && x.status === "True") ?? false,
      60_000,
    );
    const deleted = await ktl(server(), ["delete", "pod", "hooks"]);
    expect(deleted.code, deleted.stderr).toBe(0);
    await waitFor(
      "the pod gone",
      async () => (await podsOf("")).every((p) => p.metadata!.name !== "hooks"),
      30_000,
    );
    const lines = readFileSync(marker, "utf8").trim().split("\n");
    expect(lines.filter((l) => l.startsWith("a "))).toEqual(["a prestop-exec", "a sigterm"]);
    expect(lines.filter((l) => l.startsWith("b "))).toEqual(["b prestop-http", "b sigterm"]);
  });
});

// ------------------------------------------------ iptables mode in front of isolated pods (root)

const isRoot = process.getuid?.() === 0;
const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
const inNs = (ns: string, cmd: string, args: string[]) => sh("ip", ["netns", "exec", ns, cmd, ...args]);

/**
 * The same release switch with kube-proxy in iptables mode and pods in their own network
 * namespaces (the process runtime's isolation, a bridge per node). kube-proxy runs in a network
 * namespace of its own, joined to the host by a veth with a route to the pod CIDR, so its nat rules
 * never touch the host's tables; the client runs there too, so every request is DNATed by them.
 */
describe.skipIf(!isRoot)(
  "Service traffic through kube-proxy (iptables mode, isolated pods; root only)",
  () => {
    const c = useCluster();
    const s = String(process.pid % 10000);
    const n = rand(0, 250);
    const nodeName = `traffic-${s}`;
    const podCidr = `10.252.${n}.0/24`;
    const proxyNs = `tst-proxy-${s}`;
    const hostIf = `tsth-${s}`;
    const nsIf = `tstn-${s}`;
    const hostAddr = `10.253.${n}.1`;
    const nsAddr = `10.253.${n}.2`;
    const procs: ComponentHandle[] = [];
    let proxy: ChildProcess | undefined;
    let relay: NetServer | undefined;
    // The relay's connections: a proxy killed with its namespace never closes them from its side.
    const relayed = new Set<Socket>();
    let logDir = "";
    const server = () => c.servers.join(",");
    const apply = async (manifest: string) => {
      const r = await ktl(server(), ["apply", "-f", "-"], manifest);
      expect(r.code, r.stderr).toBe(0);
    };
    const podsOf = async (selector: string) =>
      (await c.client.resource<Pod>(kind("Pod")).list({ namespace: "default", labelSelector: selector }))
        .items;
    const readyIps = async (name: string) =>
      (
        await c.client
          .resource<Endpoints>(kind("Endpoints"))
          .get(name, { namespace: "default" })
          .catch(() => undefined)
      )?.subsets
        .flatMap((x) => x.addresses.map((a) => a.ip))
        .sort() ?? [];
    const nat = () => inNs(proxyNs, "iptables-save", ["-t", "nat"]);

    /** n GETs from the proxy's namespace, each on a new connection, in order. */
    function bodiesFromNs(host: string, port: number, count: number): string[] {
      const script = `const http=require("http");const out=[];const go=()=>{if(out.length===${count}){console.log(JSON.stringify(out));return;}
http.get({host:${JSON.stringify(host)},port:${port},agent:false,timeout:3000},(r)=>{let b="";r.on("data",(d)=>b+=d);r.on("end",()=>{out.push(r.statusCode===200?b:r.statusCode+" "+b);go();});}).on("timeout",function(){this.destroy(new Error("timeout"))}).on("error",(e)=>{out.push("error "+(e.code||e.message));go();});};go();`;
      return JSON.parse(inNs(proxyNs, process.execPath, ["-e", script])) as string[];
    }

    function cleanupNetwork() {
      proxy?.kill("SIGKILL");
      spawnSync("ip", ["netns", "del", proxyNs]);
      spawnSync("ip", ["link", "del", hostIf]);
    }

    beforeAll(async () => {
      logDir = mkdtempSync(join(tmpdir(), "tskube-traffic-iptables-"));
      cleanupNetwork();
      procs.push(await startComponent("scheduler", ["--server", server(), "--leader-elect", "false"]));
      procs.push(await startControllerManager(c.servers, "cm-traffic-ipt"));
      procs.push(
        await startComponent("kubelet", [
          "--server",
          server(),
          "--node-name",
          nodeName,
          "--pod-cidr",
          podCidr,
          "--process-isolation",
          "namespaces",
          "--root-dir",
          mkdtempSync(join(tmpdir(), "tskube-kubelet-")),
          "--port",
          String(await freePort()),
          "--pleg-relist-period",
          "200ms",
        ]),
      );
      sh("ip", ["netns", "add", proxyNs]);
      inNs(proxyNs, "ip", ["link", "set", "lo", "up"]);
      sh("ip", ["link", "add", hostIf, "type", "veth", "peer", "name", nsIf]);
      sh("ip", ["link", "set", nsIf, "netns", proxyNs]);
      sh("ip", ["addr", "add", `${hostAddr}/30`, "dev", hostIf]);
      sh("ip", ["link", "set", hostIf, "up"]);
      inNs(proxyNs, "ip", ["addr", "add", `${nsAddr}/30`, "dev", nsIf]);
      inNs(proxyNs, "ip", ["link", "set", nsIf, "up"]);
      // As a node's: a default route (without one a ClusterIP is unreachable before any nat rule
      // sees it), here through the host, which routes to the node's pod bridge.
      inNs(proxyNs, "ip", ["route", "add", "default", "via", hostAddr]);
      // The apiserver listens on the host's loopback: a relay on the host end of the veth.
      const [host, port] = c.servers[0]!.split(":") as [string, string];
      relay = createNetServer((inbound) => {
        const out = connect({ host, port: Number(port) });
        relayed.add(inbound).add(out);
        inbound.pipe(out).pipe(inbound);
        inbound.on("error", () => out.destroy());
        out.on("error", () => inbound.destroy());
      });
      await new Promise<void>((r) => relay!.listen(0, hostAddr, () => r()));
      const relayPort = (relay.address() as { port: number }).port;
      proxy = spawn(
        "ip",
        [
          "netns",
          "exec",
          proxyNs,
          process.execPath,
          "--import",
          "tsx",
          "apps/kube-proxy/src/main.ts",
          "--server",
          `${hostAddr}:${relayPort}`,
          "--proxy-mode",
          "iptables",
          "--hostname-override",
          nodeName,
          "--http-address",
          "127.0.0.1:10256",
        ],
        { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
      );
      const out = createWriteStream(join(logDir, "kube-proxy.log"));
      proxy.stdout?.pipe(out);
      proxy.stderr?.pipe(out);
    });
    afterAll(async () => {
      for (const name of ["web-0", "web-0-5"])
        await ktl(server(), ["delete", "deployment", name, "--ignore-not-found"]);
      await waitFor("the pods to go", async () => (await podsOf("")).length === 0, 60_000).catch(
        () => undefined,
      );
      cleanupNetwork();
      for (const sock of relayed) sock.destroy();
      await new Promise((r) => (relay ? relay.close(r) : r(undefined)));
      for (const p of procs.reverse()) await p.stop();
      // The node's bridge and its FORWARD rules, as a node taken out of service.
      const bridge = `tsk-${createHash("sha1").update(nodeName).digest("hex").slice(0, 10)}`;
      for (const dir of ["-i", "-o"]) {
        const rule = [
          "-D",
          "FORWARD",
          dir,
          bridge,
          "-m",
          "comment",
          "--comment",
          "tskube pod bridge",
          "-j",
          "ACCEPT",
        ];
        while (spawnSync("iptables", rule).status === 0);
      }
      spawnSync("ip", ["link", "del", bridge]);
      // The node's cgroup tree (tskube/<node> in the hierarchy the kubelet found for memory and cpu).
      for (const line of readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
        const [, controllers = "", path] = line.split(":");
        if (path === undefined) continue;
        const names = controllers.split(",");
        const base =
          controllers === ""
            ? "/sys/fs/cgroup"
            : names.includes("memory") || names.includes("cpu")
              ? join("/sys/fs/cgroup", controllers, path)
              : undefined;
        if (base)
          spawnSync("find", [
            join(base, "tskube", nodeName),
            "-depth",
            "-type",
            "d",
            "-exec",
            "rmdir",
            "{}",
            ";",
          ]);
      }
    });

    it("blue/green: the ClusterIP's nat rules send release 0 traffic, then only release 0-5 after the selector change", async () => {
      await apply(
        deployment({ name: "web-0", labels: { app: "bg", release: "0" }, replicas: 2, release: "0" }),
      );
      await apply(
        deployment({ name: "web-0-5", labels: { app: "bg", release: "0-5" }, replicas: 1, release: "0-5" }),
      );
      const svc = (release: string) =>
        JSON.stringify({
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "bg" },
          spec: { selector: { app: "bg", release }, ports: [{ name: "http", port: 80, targetPort: "web" }] },
        });
      await apply(svc("0"));
      for (const d of ["web-0", "web-0-5"]) {
        const r = await ktl(server(), ["rollout", "status", `deployment/${d}`, "--timeout", "120s"]);
        expect(r.code, r.stderr).toBe(0);
      }
      const clusterIp = (
        await c.client.resource<Service>(kind("Service")).get("bg", { namespace: "default" })
      ).spec!.clusterIp;
      const old = (await podsOf("release=0")).map((p) => p.status!.podIp).sort();
      const fresh = (await podsOf("release=0-5")).map((p) => p.status!.podIp);
      for (const ip of [...old, ...fresh]) expect(ip.startsWith(`10.252.${n}.`)).toBe(true);
      await waitFor(
        "both release 0 pods in the Endpoints",
        async () => (await readyIps("bg")).join() === old.join(),
      );
      await waitFor(`the DNAT rules of both (log: ${logDir}/kube-proxy.log)`, async () =>
        old.every((ip) => nat().includes(`--to-destination ${ip}:8080`)),
      );
      const before = bodiesFromNs(clusterIp, 80, 40);
      expect(new Set(before.map(released))).toEqual(new Set(["0"]));
      expect(new Set(before.map(podOf)).size).toBe(2);

      await apply(svc("0-5"));
      await waitFor(
        "the Endpoints to hold only release 0-5",
        async () => (await readyIps("bg")).join() === fresh.join(),
      );
      await waitFor("the rules to follow", async () => {
        const rules = nat();
        return (
          rules.includes(`--to-destination ${fresh[0]}:8080`) &&
          old.every((ip) => !rules.includes(`${ip}:8080`))
        );
      });
      const after = bodiesFromNs(clusterIp, 80, 40);
      expect(new Set(after.map(released))).toEqual(new Set(["0-5"]));
    });
  },
);
