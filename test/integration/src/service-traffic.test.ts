import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, mkdtempSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Deployment, type Endpoints, KINDS, type Pod, type ReplicaSet, Service } from "@tskube/api";
import { isNotFound } from "@tskube/machinery";
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
 * The client loop, a process of its own so it can run in kube-proxy's network namespace: `workers`
 * sequential GETs at a time, each on a new connection, until stdin closes, `maxRequests` were sent
 * or `maxMs` passed, whichever comes first. A line on stderr per answer lets the test count them;
 * at the end every answer, in order, goes to stdout as JSON.
 */
const LOOP = `
const http = require("http");
const [host, port, workers, maxRequests, maxMs] = process.argv.slice(1);
const replies = [];
let stopped = false;
const deadline = Date.now() + Number(maxMs);
process.stdin.on("data", () => {}).on("end", () => { stopped = true; }).resume();
const one = () => new Promise((done) => {
  const req = http.get({ host, port: Number(port), agent: false, timeout: 5000 }, (r) => {
    let b = "";
    r.on("data", (d) => { b += d; });
    r.on("end", () => done(r.statusCode === 200 ? { ok: true, body: b } : { ok: false, body: r.statusCode + " " + b }));
    r.on("error", (e) => done({ ok: false, body: "error " + e.message }));
  });
  req.on("timeout", () => req.destroy(new Error("timeout")));
  req.on("error", (e) => done({ ok: false, body: "error " + (e.code || e.message) }));
});
const worker = async () => {
  while (!stopped && replies.length < Number(maxRequests) && Date.now() < deadline) {
    replies.push(await one());
    process.stderr.write(".\\n");
  }
};
Promise.all(Array.from({ length: Number(workers) }, worker)).then(() => {
  process.stdout.write(JSON.stringify(replies), () => process.exit(0));
});
`;

interface LoopReply {
  ok: boolean;
  body: string;
}

function clientLoop(
  host: string,
  port: number,
  o: { workers: number; maxRequests: number; maxMs: number; netns?: string },
) {
  const argv = [
    process.execPath,
    "-e",
    LOOP,
    host,
    String(port),
    String(o.workers),
    String(o.maxRequests),
    String(o.maxMs),
  ];
  const child = o.netns ? spawn("ip", ["netns", "exec", o.netns, ...argv]) : spawn(argv[0]!, argv.slice(1));
  let count = 0;
  let out = "";
  child.stderr.on("data", (d: Buffer) => {
    count += d.toString().split("\n").length - 1;
  });
  child.stdout.on("data", (d: Buffer) => {
    out += d;
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const finished = async () => {
    await exited;
    return JSON.parse(out) as LoopReply[];
  };
  return {
    count: () => count,
    /** The answers once it ended by itself (count or time). */
    finished,
    /** Ends it now (each worker finishes its request) and returns the answers. */
    async stop(): Promise<LoopReply[]> {
      child.stdin.end();
      return await finished();
    },
  };
}

type Ctx = ReturnType<typeof useCluster>;

/** Starts components at once; every one that started is kept for afterAll even if another failed. */
async function startAll(procs: ComponentHandle[], starts: Promise<ComponentHandle>[]): Promise<void> {
  const results = await Promise.allSettled(starts);
  for (const r of results) if (r.status === "fulfilled") procs.push(r.value);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/** The verbs both clusters below use, through ktl as a user would or the typed client. */
function helpersFor(c: Ctx) {
  const server = () => c.servers.join(",");
  const endpointsOf = (name: string) =>
    c.client.resource<Endpoints>(kind("Endpoints")).get(name, { namespace: "default" });
  return {
    server,
    services: () => c.client.resource<Service>(kind("Service")),
    endpointsOf,
    /** `ktl apply -f -` of one or more manifests (one YAML stream, one ktl run). */
    async apply(...manifests: string[]) {
      const r = await ktl(server(), ["apply", "-f", "-"], manifests.join("\n---\n"));
      expect(r.code, r.stderr).toBe(0);
    },
    async readyIps(name: string) {
      return (
        (await endpointsOf(name).catch(() => undefined))?.subsets
          .flatMap((s) => s.addresses.map((a) => a.ip))
          .sort() ?? []
      );
    },
    async podsOf(selector: string) {
      return (
        await c.client.resource<Pod>(kind("Pod")).list({ namespace: "default", labelSelector: selector })
      ).items;
    },
    /** What `ktl rollout status` waits for (read with the client: each ktl run costs a process start). */
    async rolledOut(name: string) {
      await waitFor(
        `deployment ${name} rolled out`,
        async () => {
          const d = await c.client
            .resource<Deployment>(kind("Deployment"))
            .get(name, { namespace: "default" });
          const st = d.status;
          const want = d.spec?.replicas ?? 1;
          return (
            !!st &&
            st.observedGeneration >= (d.metadata?.generation ?? 0) &&
            st.updatedReplicas === want &&
            st.replicas === want &&
            st.availableReplicas === want
          );
        },
        120_000,
      );
    },
    /** Deletes what a test left, while the kubelet runs (process-runtime pods outlive it), and waits. */
    async cleanUp(deployments: string[], pods: string[] = []) {
      const gone = (err: unknown) => {
        if (!isNotFound(err)) throw err;
      };
      await Promise.all([
        ...deployments.map((d) =>
          c.client.resource<Deployment>(kind("Deployment")).delete(d, { namespace: "default" }).catch(gone),
        ),
        ...pods.map((p) =>
          c.client.resource<Pod>(kind("Pod")).delete(p, { namespace: "default" }).catch(gone),
        ),
      ]);
      await waitFor(
        "the pods to go",
        async () =>
          (await c.client.resource<Pod>(kind("Pod")).list({ namespace: "default" })).items.length === 0,
        60_000,
      ).catch(() => undefined);
    },
  };
}

/**
 * The release switch of the classic tutorial: Deployments for release 0 (two pods) and 0-5 (one)
 * and a Service on release 0, in one manifest; then the Service's selector moves to 0-5 with
 * `ktl apply`. `bodies` sends n requests to the ClusterIP; `programmed`, when the proxy's rules can
 * be read, says whether they hold exactly the given pod IPs.
 */
async function blueGreen(
  c: Ctx,
  o: {
    bodies: (host: string, port: number, n: number) => Promise<string[]>;
    programmed?: (ready: string[], gone: string[]) => boolean;
    podIpPrefix?: string;
  },
): Promise<void> {
  const h = helpersFor(c);
  const svc = (release: string) =>
    JSON.stringify({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "bg" },
      spec: { selector: { app: "bg", release }, ports: [{ name: "http", port: 80, targetPort: "web" }] },
    });
  await h.apply(
    deployment({ name: "web-0", labels: { app: "bg", release: "0" }, replicas: 2, release: "0" }),
    deployment({ name: "web-0-5", labels: { app: "bg", release: "0-5" }, replicas: 1, release: "0-5" }),
    svc("0"),
  );
  await h.rolledOut("web-0");
  await h.rolledOut("web-0-5");
  const clusterIp = (await h.services().get("bg", { namespace: "default" })).spec!.clusterIp;
  const old = (await h.podsOf("release=0")).map((p) => p.status!.podIp).sort();
  const fresh = (await h.podsOf("release=0-5")).map((p) => p.status!.podIp);
  if (o.podIpPrefix) for (const ip of [...old, ...fresh]) expect(ip.startsWith(o.podIpPrefix)).toBe(true);
  const first = async () => released((await o.bodies(clusterIp, 80, 1))[0] ?? "");

  await waitFor(
    "both release 0 pods in the Endpoints",
    async () => (await h.readyIps("bg")).join() === old.join(),
  );
  if (o.programmed) await waitFor("the proxy rules for release 0", async () => o.programmed!(old, fresh));
  await waitFor("the ClusterIP to answer", async () => (await first()) === "0");
  const before = await o.bodies(clusterIp, 80, 40);
  expect(new Set(before.map(released))).toEqual(new Set(["0"]));

  await h.apply(svc("0-5"));
  await waitFor(
    "the Endpoints to hold only release 0-5",
    async () => (await h.readyIps("bg")).join() === fresh.join(),
  );
  if (o.programmed) await waitFor("the proxy rules for release 0-5", async () => o.programmed!(fresh, old));
  await waitFor("kube-proxy to follow", async () => (await first()) === "0-5");
  const after = await o.bodies(clusterIp, 80, 40);
  expect(new Set(after.map(released))).toEqual(new Set(["0-5"]));
  // The release 0 pods still run; they just get nothing.
  expect((await h.podsOf("release=0")).filter((p) => p.status?.phase === "Running")).toHaveLength(2);
}

/**
 * A 3-replica Deployment behind a Service is rolled to a new template (`ktl apply` of the edited
 * manifest) while a bounded client loop sends requests through the Service, until the rollout is
 * done and a little after. Every request must succeed, old pods answer first and only new ones
 * at the end.
 */
async function rollingUpdateUnderLoad(
  c: Ctx,
  o: {
    type: "NodePort" | "ClusterIP";
    address: (svc: Service) => { host: string; port: number };
    netns?: string;
  },
): Promise<LoopReply[]> {
  const h = helpersFor(c);
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
  await h.apply(app("v1"));
  const svc = await h.services().create(
    Service.fromPartial({
      metadata: { name: "roll", namespace: "default" },
      spec: {
        type: o.type,
        selector: { app: "roll" },
        ports: [{ name: "http", port: 80, targetPort: "web" }],
      },
    }),
  );
  const { host, port } = o.address(svc);
  await h.rolledOut("roll");
  await waitFor("3 ready endpoints", async () => (await h.readyIps("roll")).length === 3, 60_000);
  const oldPods = new Set((await h.podsOf("app=roll")).map((p) => p.metadata!.name));
  // Until the Service answers (kube-proxy programmed it): a short loop of its own.
  await waitFor("the Service to answer", async () => {
    const probe = clientLoop(host, port, {
      workers: 1,
      maxRequests: 1,
      maxMs: 5_000,
      ...(o.netns ? { netns: o.netns } : {}),
    });
    const answers = await probe.finished();
    return answers.length === 1 && answers.every((r) => r.ok);
  });

  const loop = clientLoop(host, port, {
    workers: 3,
    maxRequests: 20_000,
    maxMs: 150_000,
    ...(o.netns ? { netns: o.netns } : {}),
  });
  await waitFor("the first answers", async () => loop.count() >= 30, 30_000);
  await h.apply(app("v2"));
  // As a user waits for it.
  const status = await ktl(h.server(), ["rollout", "status", "deployment/roll", "--timeout", "120s"]);
  expect(status.code, status.stderr).toBe(0);
  expect(status.stdout).toContain('deployment "roll" successfully rolled out');
  // The last old pod left the Endpoints when it was deleted; kube-proxy follows within its sync
  // period (well under a second), so 150 more requests end on the new pods only.
  const current = async () =>
    (await h.podsOf("app=roll"))
      .filter((p) => !p.metadata!.deletionTimestamp)
      .map((p) => p.status!.podIp)
      .sort();
  await waitFor(
    "only new pods in the Endpoints",
    async () => (await h.readyIps("roll")).join() === (await current()).join(),
  );
  const seenAfter = loop.count();
  await waitFor("requests after the rollout", async () => loop.count() >= seenAfter + 150, 30_000);
  const replies = await loop.stop();

  const failures = replies.filter((r) => !r.ok).map((r) => r.body);
  expect(failures).toEqual([]);
  // rollout status is done once the new pods are available; old ones may still be terminating.
  const newPods = new Set(
    (await h.podsOf("app=roll")).filter((p) => !p.metadata!.deletionTimestamp).map((p) => p.metadata!.name),
  );
  expect(newPods.size).toBe(3);
  for (const p of newPods) expect(oldPods.has(p)).toBe(false);
  // Traffic went to the old release, then the new one, and only to pods of the Deployment.
  const releases = replies.map((r) => released(r.body));
  expect(releases.slice(0, 20)).toEqual(Array(20).fill("v1"));
  expect(releases.slice(-20)).toEqual(Array(20).fill("v2"));
  for (const r of replies) expect(oldPods.has(podOf(r.body)) || newPods.has(podOf(r.body))).toBe(true);
  const sets = (
    await c.client.resource<ReplicaSet>(kind("ReplicaSet")).list({ namespace: "default" })
  ).items.filter((rs) => rs.metadata!.name.startsWith("roll-"));
  expect(sets.map((rs) => rs.status?.replicas ?? 0).sort()).toEqual([0, 3]);
  console.log(
    `rolling update (${o.type}${o.netns ? ", iptables" : ""}): ${replies.length} requests, ${failures.length} failed`,
  );
  return replies;
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
  const { server, apply, services, endpointsOf, readyIps, podsOf, rolledOut, cleanUp } = helpersFor(c);

  beforeAll(async () => {
    const kubeletPort = await freePort();
    await startAll(procs, [
      startComponent("scheduler", ["--server", server(), "--leader-elect", "false"]),
      startControllerManager(c.servers, "cm-traffic"),
      startComponent("kubelet", [
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
        String(kubeletPort),
        "--pleg-relist-period",
        "200ms",
      ]),
      startComponent("kube-proxy", [
        "--server",
        server(),
        "--proxy-mode",
        "userspace",
        "--hostname-override",
        "node-traffic",
        "--nodeport-addresses",
        `${nodePortAddress}/32`,
      ]),
    ]);
  });
  afterAll(async () => {
    await cleanUp(["web-0", "web-0-5", "roll", "multi"], ["hooks"]);
    for (const p of procs.reverse()) await p.stop();
  });

  it("blue/green: a Service on release 0 sends everything there, and after its selector moves to 0-5 only to 0-5", async () => {
    await blueGreen(c, { bodies });
  });

  it("rolls a 3-replica Deployment behind a NodePort under continuous requests without one failing", async () => {
    await rollingUpdateUnderLoad(c, {
      type: "NodePort",
      address: (svc) => ({ host: nodePortAddress, port: svc.spec!.ports[0]!.nodePort }),
    });
  });

  it("multi-port named Service with targetPorts by name, ClientIP affinity, and a headless Service", async () => {
    const app = deployment({
      name: "multi",
      labels: { app: "multi" },
      replicas: 2,
      release: "m",
      ports: [
        { name: "web", containerPort: 8080 },
        { name: "admin", containerPort: 9090 },
      ],
    });
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
    await apply(
      app,
      svc("ClientIP"),
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
  it("runs postStart after the start, and each container's preStop hook (exec, httpGet) before its SIGTERM when the pod is deleted", async () => {
    const marker = join(mkdtempSync(join(tmpdir(), "tskube-prestop-")), "order");
    // Each container notes its hook and its SIGTERM in one file the test reads afterwards.
    const script = `const fs = require("fs");
require("http").createServer((q, r) => {
  if (q.url === "/prestop") fs.appendFileSync(process.env.MARKER, process.env.NAME + " prestop-http\\n");
  r.end("ok");
}).listen(Number(process.env.PORT), process.env.TSKUBE_POD_IP);
process.on("SIGTERM", () => { fs.appendFileSync(process.env.MARKER, process.env.NAME + " sigterm\\n"); process.exit(0); });`;
    const container = (name: string, port: number, lifecycle: Record<string, unknown>) => ({
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
      lifecycle,
    });
    await apply(
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "hooks" },
        spec: {
          terminationGracePeriodSeconds: 10,
          containers: [
            container("a", 8081, {
              postStart: { exec: { command: ["sh", "-c", `echo a poststart-exec >> ${marker}`] } },
              preStop: { exec: { command: ["sh", "-c", `echo a prestop-exec >> ${marker}`] } },
            }),
            container("b", 8082, { preStop: { httpGet: { path: "/prestop", port: "b-admin" } } }),
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
    // A graceful delete (the pod's terminationGracePeriodSeconds), as `ktl delete pod hooks`.
    await c.client.resource<Pod>(kind("Pod")).delete("hooks", { namespace: "default" });
    await waitFor(
      "the pod gone",
      async () => (await podsOf("")).every((p) => p.metadata!.name !== "hooks"),
      30_000,
    );
    const lines = readFileSync(marker, "utf8").trim().split("\n");
    expect(lines.filter((l) => l.startsWith("a "))).toEqual([
      "a poststart-exec",
      "a prestop-exec",
      "a sigterm",
    ]);
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
    const { server, cleanUp } = helpersFor(c);
    const nat = () => inNs(proxyNs, "iptables-save", ["-t", "nat"]);

    /** n GETs from the proxy's namespace, each on a new connection, in order. */
    const bodiesFromNs = async (host: string, port: number, count: number) =>
      (
        await clientLoop(host, port, {
          workers: 1,
          maxRequests: count,
          maxMs: 60_000,
          netns: proxyNs,
        }).finished()
      ).map((r) => r.body);

    function cleanupNetwork() {
      proxy?.kill("SIGKILL");
      spawnSync("ip", ["netns", "del", proxyNs]);
      spawnSync("ip", ["link", "del", hostIf]);
    }

    beforeAll(async () => {
      logDir = mkdtempSync(join(tmpdir(), "tskube-traffic-iptables-"));
      cleanupNetwork();
      const kubeletPort = await freePort();
      await startAll(procs, [
        startComponent("scheduler", ["--server", server(), "--leader-elect", "false"]),
        startControllerManager(c.servers, "cm-traffic-ipt"),
        startComponent("kubelet", [
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
          String(kubeletPort),
          "--pleg-relist-period",
          "200ms",
        ]),
      ]);
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
      await cleanUp(["web-0", "web-0-5", "roll"]);
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
      await blueGreen(c, {
        bodies: bodiesFromNs,
        podIpPrefix: `10.252.${n}.`,
        programmed: (ready, gone) => {
          const rules = nat();
          return (
            ready.every((ip) => rules.includes(`--to-destination ${ip}:8080`)) &&
            gone.every((ip) => !rules.includes(`${ip}:8080`))
          );
        },
      });
    });

    it("rolls a 3-replica Deployment behind a ClusterIP under continuous requests without one failing", async () => {
      // No retry as in userspace mode: a connection DNATed to a pod that stopped listening fails,
      // so this holds only if the endpoint leaves the rules before the pod stops serving.
      await rollingUpdateUnderLoad(c, {
        type: "ClusterIP",
        address: (svc) => ({ host: svc.spec!.clusterIp, port: 80 }),
        netns: proxyNs,
      });
    });
  },
);
