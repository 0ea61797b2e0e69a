import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createWriteStream, mkdtempSync } from "node:fs";
import { createServer as createHttpServer, request, type Server } from "node:http";
import { connect, createServer as createNetServer, type Server as NetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Deployment, Endpoints, KINDS, Service } from "@tskube/api";
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

const kind = (k: string) => KINDS.find((x) => x.kind === k)! as never;
const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

/** One HTTP GET on a fresh connection (as separate clients would), answering the body or the error. */
function get(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: "/", agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve(body));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolve(`error: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    req.end();
  });
}

async function tally(host: string, port: number, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const body = await get(host, port);
    counts[body] = (counts[body] ?? 0) + 1;
  }
  return counts;
}

/** A stand-in for a pod: an HTTP server on its own loopback address that answers its name. */
async function backend(ip: string, name: string): Promise<Server> {
  const srv = createHttpServer((_req, res) => res.end(name));
  await new Promise<void>((r) => srv.listen(0, ip, () => r()));
  return srv;
}
const portOf = (s: Server | NetServer) => (s.address() as { port: number }).port;

function endpointsFor(
  ns: string,
  name: string,
  ready: { ip: string; port: number }[],
  notReady: { ip: string; port: number }[] = [],
) {
  // Endpoints subsets group addresses by port, as the endpoints controller writes them.
  const ports = [...new Set([...ready, ...notReady].map((a) => a.port))];
  return Endpoints.fromPartial({
    metadata: { namespace: ns, name },
    subsets: ports.map((port) => ({
      addresses: ready.filter((a) => a.port === port).map((a) => ({ ip: a.ip })),
      notReadyAddresses: notReady.filter((a) => a.port === port).map((a) => ({ ip: a.ip })),
      ports: [{ name: "http", port, protocol: "TCP" }],
    })),
  });
}

describe("kube-proxy userspace mode", () => {
  // A loopback service CIDR: the userspace proxy can listen on every ClusterIP without root.
  const c = useCluster({ apiserverArgs: ["--service-cluster-ip-range", "127.96.0.0/16"] });
  let proxy: ComponentHandle;
  const backends: Server[] = [];
  const a = rand(1, 250);
  let clusterIp = "";
  let nodePort = 0;
  const ns = "default";
  const svcName = `web-${a}`;
  // Pod stand-ins on their own loopback addresses, as the process runtime places pods.
  const podIps = [1, 2, 3, 4].map((i) => `127.0.${200 + (a % 50)}.${i}`);
  let eps: { ip: string; port: number; name: string }[] = [];

  beforeAll(async () => {
    for (const [i, ip] of podIps.entries()) backends.push(await backend(ip, `pod-${i}`));
    eps = backends.map((b, i) => ({ ip: podIps[i]!, port: portOf(b), name: `pod-${i}` }));
    proxy = await startComponent("kube-proxy", [
      "--server",
      c.servers.join(","),
      "--proxy-mode",
      "userspace",
      "--hostname-override",
      "node-1",
      "--nodeport-addresses",
      "127.0.0.1/32",
    ]);
  });
  afterAll(async () => {
    await proxy?.stop();
    for (const b of backends) await new Promise((r) => b.close(r));
  });

  const services = () => c.client.resource<Service>(kind("Service"));
  const endpoints = () => c.client.resource<Endpoints>(kind("Endpoints"));

  it("routes a ClusterIP and a NodePort to every ready endpoint and none to not-ready ones", async () => {
    // The apiserver allocates the ClusterIP and the NodePort.
    const svc = await services().create(
      Service.fromPartial({
        metadata: { namespace: ns, name: svcName },
        spec: {
          type: "NodePort",
          selector: { app: "web" },
          ports: [{ name: "http", port: 8080, targetPort: "8080", protocol: "TCP" }],
        },
      }),
    );
    clusterIp = svc.spec?.clusterIp ?? "";
    nodePort = svc.spec?.ports[0]?.nodePort ?? 0;
    expect(clusterIp).toMatch(/^127\.96\./);
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    await endpoints().create(endpointsFor(ns, svcName, eps.slice(0, 3), eps.slice(3)));
    await waitFor("the ClusterIP listener", async () => (await get(clusterIp, 8080)).startsWith("pod-"));
    const viaClusterIp = await tally(clusterIp, 8080, 100);
    expect(Object.keys(viaClusterIp).sort()).toEqual(["pod-0", "pod-1", "pod-2"]);
    await waitFor("the NodePort listener", async () => (await get("127.0.0.1", nodePort)).startsWith("pod-"));
    const viaNodePort = await tally("127.0.0.1", nodePort, 100);
    expect(Object.keys(viaNodePort).sort()).toEqual(["pod-0", "pod-1", "pod-2"]);
    // Round-robin: 100 connections over 3 endpoints give each 33 or 34.
    for (const n of Object.values(viaNodePort)) expect(n).toBeGreaterThanOrEqual(33);
  });

  it("stops sending traffic to a removed endpoint and retries past one that refuses", async () => {
    const current = await endpoints().get(svcName, { namespace: ns });
    // pod-0 goes; a dead address (nothing listens on it) joins.
    const dead = { ip: `127.0.${200 + (a % 50)}.9`, port: eps[0]!.port };
    await endpoints().update({
      ...endpointsFor(ns, svcName, [eps[1]!, eps[2]!, dead]),
      metadata: current.metadata,
    });
    await waitFor("pod-0 out of rotation", async () => {
      const t = await tally(clusterIp, 8080, 6);
      return !t["pod-0"];
    });
    const after = await tally(clusterIp, 8080, 60);
    expect(Object.keys(after).sort()).toEqual(["pod-1", "pod-2"]);
  });

  it("closes the listeners of a deleted service", async () => {
    await services().delete(svcName, { namespace: ns });
    await waitFor("the ClusterIP listener to close", async () =>
      (await get(clusterIp, 8080)).startsWith("error"),
    );
    expect(await get("127.0.0.1", nodePort)).toMatch(/^error: ECONNREFUSED/);
  });
});

describe("kube-proxy in front of a Deployment (userspace mode, process runtime)", () => {
  const c = useCluster({ apiserverArgs: ["--service-cluster-ip-range", "127.96.0.0/16"] });
  const procs: ComponentHandle[] = [];
  const name = `echo-${rand(1, 9999)}`;

  beforeAll(async () => {
    const server = c.servers.join(",");
    procs.push(await startComponent("scheduler", ["--server", server, "--leader-elect", "false"]));
    procs.push(await startControllerManager(c.servers, "cm-proxy"));
    procs.push(
      await startComponent("kubelet", [
        "--server",
        server,
        "--node-name",
        "node-proxy",
        "--pod-cidr",
        `127.${rand(60, 90)}.0.0/16`,
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
        server,
        "--proxy-mode",
        "userspace",
        "--hostname-override",
        "node-proxy",
        "--nodeport-addresses",
        "127.0.0.1/32",
      ]),
    );
  });
  afterAll(async () => {
    await c.client
      .resource<Deployment>(kind("Deployment"))
      .delete(name, { namespace: "default" })
      .catch(() => undefined);
    for (const p of procs.reverse()) await p.stop();
  });

  it("sends 100 requests to a NodePort to every replica of a 3-replica Deployment", async () => {
    // Each replica answers its own pod IP.
    const echo =
      "require('http').createServer((q, r) => r.end(process.env.TSKUBE_POD_IP)).listen(8080, process.env.TSKUBE_POD_IP)";
    await c.client.resource<Deployment>(kind("Deployment")).create(
      Deployment.fromPartial({
        metadata: { name, namespace: "default" },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: {
              terminationGracePeriodSeconds: 1,
              containers: [
                {
                  name: "echo",
                  image: "node",
                  command: [process.execPath, "-e", echo],
                  ports: [{ name: "http", containerPort: 8080 }],
                  readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 1 },
                },
              ],
            },
          },
        },
      }),
    );
    const svc = await c.client.resource<Service>(kind("Service")).create(
      Service.fromPartial({
        metadata: { name, namespace: "default" },
        spec: {
          type: "NodePort",
          selector: { app: name },
          ports: [{ name: "http", port: 80, targetPort: "http" }],
        },
      }),
    );
    const nodePort = svc.spec?.ports[0]?.nodePort ?? 0;
    const readyIps = async () => {
      const ep = await c.client.resource<Endpoints>(kind("Endpoints")).get(name, { namespace: "default" });
      return ep.subsets.flatMap((s) => s.addresses.map((a) => a.ip)).sort();
    };
    await waitFor("3 ready endpoints", async () => (await readyIps()).length === 3, 90_000);
    const want = await readyIps();
    await waitFor("the NodePort to reach all three", async () => {
      const t = await tally("127.0.0.1", nodePort, 6);
      return Object.keys(t).sort().join() === want.join();
    });
    const counts = await tally("127.0.0.1", nodePort, 100);
    expect(Object.keys(counts).sort()).toEqual(want);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(100);
  });
});

// ------------------------------------------------------------------ iptables mode in network namespaces

const isRoot = process.getuid?.() === 0;
const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
const inNs = (ns: string, cmd: string, args: string[]) => sh("ip", ["netns", "exec", ns, cmd, ...args]);

describe.skipIf(!isRoot)("kube-proxy iptables mode (needs root: network namespaces and iptables)", () => {
  const c = useCluster();
  const s = String(process.pid % 10000);
  // node: where kube-proxy runs; client: a machine outside the node; pods: one namespace each.
  const node = `tkp-node-${s}`;
  const client = `tkp-cli-${s}`;
  const pods = [1, 2, 3].map((i) => `tkp-pod${i}-${s}`);
  const net = `10.${rand(200, 230)}`;
  let clusterIp = "";
  let nodePort = 0;
  const children: ChildProcess[] = [];
  let bridge: NetServer | undefined;
  let apiserver = "";
  let logDir = "";

  function spawnIn(ns: string, args: string[], log: string): ChildProcess {
    const child = spawn("ip", ["netns", "exec", ns, ...args], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = createWriteStream(join(logDir, log));
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    children.push(child);
    return child;
  }

  /** 100 requests from the client namespace, each on a new connection, tallied by answering pod. */
  function tallyFromClient(host: string, port: number): Record<string, number> {
    const script = `const http=require("http");const c={};let n=0;const go=()=>{if(n++===100){console.log(JSON.stringify(c));return;}
http.get({host:${JSON.stringify(host)},port:${port},agent:false,timeout:3000},(r)=>{let b="";r.on("data",(d)=>b+=d);r.on("end",()=>{c[b]=(c[b]||0)+1;go();});}).on("error",(e)=>{c["error "+e.code]=(c["error "+e.code]||0)+1;go();});};go();`;
    return JSON.parse(inNs(client, process.execPath, ["-e", script])) as Record<string, number>;
  }

  function cleanup() {
    for (const ch of children) ch.kill("SIGKILL");
    for (const n of [node, client, ...pods]) {
      try {
        sh("ip", ["netns", "del", n]);
      } catch {
        // Not created (setup failed before it) or already gone.
      }
    }
  }

  beforeAll(async () => {
    logDir = mkdtempSync(join(tmpdir(), "tskube-kube-proxy-netns-"));
    cleanup();
    for (const n of [node, client, ...pods]) {
      sh("ip", ["netns", "add", n]);
      inNs(n, "ip", ["link", "set", "lo", "up"]);
    }
    const link = (peer: string, i: number, peerIp: string, nodeIp: string) => {
      const a = `tkn${i}-${s}`;
      const b = `tkp${i}-${s}`;
      sh("ip", ["link", "add", a, "type", "veth", "peer", "name", b]);
      sh("ip", ["link", "set", a, "netns", node]);
      sh("ip", ["link", "set", b, "netns", peer]);
      inNs(node, "ip", ["addr", "add", `${nodeIp}/24`, "dev", a]);
      inNs(node, "ip", ["link", "set", a, "up"]);
      inNs(peer, "ip", ["addr", "add", `${peerIp}/24`, "dev", b]);
      inNs(peer, "ip", ["link", "set", b, "up"]);
      inNs(peer, "ip", ["route", "add", "default", "via", nodeIp]);
    };
    link(client, 0, `${net}.0.2`, `${net}.0.1`);
    for (const [i, p] of pods.entries()) link(p, i + 1, `${net}.${i + 1}.2`, `${net}.${i + 1}.1`);
    inNs(node, "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
    for (const [i, p] of pods.entries())
      spawnIn(
        p,
        [process.execPath, "-e", `require("http").createServer((q,s)=>s.end("pod-${i}")).listen(8080)`],
        `pod-${i}.log`,
      );

    // The apiserver listens on the host's loopback, which the node namespace cannot reach: a veth
    // to the host and a TCP relay on its host end stand in for the node's route to the apiserver.
    const hostIf = `tkh-${s}`;
    sh("ip", ["link", "add", hostIf, "type", "veth", "peer", "name", `tkq-${s}`]);
    sh("ip", ["link", "set", `tkq-${s}`, "netns", node]);
    sh("ip", ["addr", "add", `${net}.254.1/30`, "dev", hostIf]);
    sh("ip", ["link", "set", hostIf, "up"]);
    inNs(node, "ip", ["addr", "add", `${net}.254.2/30`, "dev", `tkq-${s}`]);
    inNs(node, "ip", ["link", "set", `tkq-${s}`, "up"]);
    const [host, port] = c.servers[0]!.split(":") as [string, string];
    bridge = createNetServer((inbound) => {
      const out = connect({ host, port: Number(port) });
      inbound.pipe(out).pipe(inbound);
      inbound.on("error", () => out.destroy());
      out.on("error", () => inbound.destroy());
    });
    await new Promise<void>((r) => bridge!.listen(0, `${net}.254.1`, () => r()));
    apiserver = `${net}.254.1:${portOf(bridge)}`;
    spawnIn(
      node,
      [
        process.execPath,
        "--import",
        "tsx",
        "apps/kube-proxy/src/main.ts",
        "--server",
        apiserver,
        "--proxy-mode",
        "iptables",
        "--hostname-override",
        "node-1",
        "--http-address",
        "127.0.0.1:10256",
      ],
      "kube-proxy.log",
    );
  });
  afterAll(async () => {
    cleanup();
    await new Promise((r) => (bridge ? bridge.close(r) : r(undefined)));
  });

  it("routes a ClusterIP and a NodePort to every backend through nat rules, and drops stale ones", async () => {
    const ns = "default";
    const name = `web-${s}`;
    const svc = await c.client.resource<Service>(kind("Service")).create(
      Service.fromPartial({
        metadata: { namespace: ns, name },
        spec: { type: "NodePort", ports: [{ name: "http", port: 80, targetPort: "8080", protocol: "TCP" }] },
      }),
    );
    clusterIp = svc.spec?.clusterIp ?? "";
    nodePort = svc.spec?.ports[0]?.nodePort ?? 0;
    const podAddr = pods.map((_, i) => ({ ip: `${net}.${i + 1}.2`, port: 8080 }));
    await c.client.resource<Endpoints>(kind("Endpoints")).create(endpointsFor(ns, name, podAddr));
    await waitFor(`the service's DNAT rules (log: ${logDir}/kube-proxy.log)`, async () =>
      podAddr.every((p) =>
        inNs(node, "iptables-save", ["-t", "nat"]).includes(`--to-destination ${p.ip}:8080`),
      ),
    );
    const viaClusterIp = tallyFromClient(clusterIp, 80);
    expect(Object.keys(viaClusterIp).sort()).toEqual(["pod-0", "pod-1", "pod-2"]);
    const viaNodePort = tallyFromClient(`${net}.0.1`, nodePort);
    expect(Object.keys(viaNodePort).sort()).toEqual(["pod-0", "pod-1", "pod-2"]);

    // A chain left behind by an earlier run goes when kube-proxy starts again.
    inNs(node, "iptables", ["-t", "nat", "-N", "KUBE-SVC-STALESTALESTALE0"]);
    const proxy = children.at(-1)!;
    proxy.kill("SIGTERM");
    await new Promise((r) => proxy.once("exit", r));
    expect(inNs(node, "iptables-save", ["-t", "nat"])).toContain("KUBE-SVC-STALESTALESTALE0");
    // Rules stay while the proxy is down, so traffic keeps flowing.
    expect(Object.keys(tallyFromClient(clusterIp, 80)).sort()).toEqual(["pod-0", "pod-1", "pod-2"]);
    spawnIn(
      node,
      [
        process.execPath,
        "--import",
        "tsx",
        "apps/kube-proxy/src/main.ts",
        "--server",
        apiserver,
        "--proxy-mode",
        "iptables",
        "--http-address",
        "127.0.0.1:10256",
      ],
      "kube-proxy-2.log",
    );
    await waitFor(
      "the stale chain to go",
      async () => !inNs(node, "iptables-save", ["-t", "nat"]).includes("KUBE-SVC-STALESTALESTALE0"),
    );

    // Not-ready addresses get no rules.
    const cur = await c.client.resource<Endpoints>(kind("Endpoints")).get(name, { namespace: ns });
    await c.client.resource<Endpoints>(kind("Endpoints")).update({
      ...endpointsFor(ns, name, [podAddr[2]!], [podAddr[0]!, podAddr[1]!]),
      metadata: cur.metadata,
    });
    await waitFor(
      "pod-0 and pod-1 out of the rules",
      async () => !inNs(node, "iptables-save", ["-t", "nat"]).includes(`${podAddr[0]!.ip}:8080`),
    );
    expect(tallyFromClient(clusterIp, 80)).toEqual({ "pod-2": 100 });
  });
});
