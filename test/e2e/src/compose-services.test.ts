import { get } from "node:http";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ComposeProject, ktl, ktlStdin, podImage, REPO_ROOT, run } from "./compose.js";

/**
 * Services in compose: kube-proxy's iptables mode in each node's network namespace, pod sandboxes
 * routing the service range via their node, NodePorts from the host, ClusterIPs and cluster DNS
 * names from pods, and pods reaching each other across nodes.
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
  "dns",
  "node-1",
  "node-2",
  "node-3",
  "kube-proxy-1",
  "kube-proxy-2",
  "kube-proxy-3",
];
const NODES = ["node-1", "node-2", "node-3"];

const BUILD_TIMEOUT_MS = 20 * 60_000;
const HEALTHY_TIMEOUT_MS = 3 * 60_000;
/** Bounds for waiting on the cluster (pods started, rules programmed); never asserted as timings. */
const WAIT_MS = 120_000;

const image = podImage();

// Three replicas, one per node (required anti-affinity), each serving its own hostname (the pod's
// name) with busybox httpd on 8080, behind a NodePort Service on port 80.
const WEBAPP = `apiVersion: apps/v1
kind: Deployment
metadata: {name: webapp}
spec:
  replicas: 3
  selector: {matchLabels: {app: webapp}}
  template:
    metadata: {labels: {app: webapp}}
    spec:
      # The node-restart test must not see these pods evicted if node-1 misses the fast profile's 5s grace period meanwhile.
      tolerations: [{operator: Exists, effect: NoExecute}]
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: webapp}}
            topologyKey: kubernetes.io/hostname
      containers:
      - name: web
        image: ${image}
        # The offline image is tagged :latest (imagePullPolicy Always by default) and there is no registry.
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
        ports: [{containerPort: 8080}]
        readinessProbe:
          tcpSocket: {port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: webapp}
spec:
  type: NodePort
  selector: {app: webapp}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeSelector: {kubernetes.io/hostname: node-1}
  tolerations: [{operator: Exists, effect: NoExecute}]
  terminationGracePeriodSeconds: 0
  containers:
  - name: client
    image: ${image}
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
`;

interface PodManifest {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: { podIP?: string; phase?: string };
}

/** One GET on a new connection (no keep-alive), so iptables balances each request on its own. */
function fetchOnce(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: 5_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () =>
        res.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`${url}: HTTP ${res.statusCode}`)),
      );
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: timed out`)));
    req.on("error", reject);
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `${what}: not within ${WAIT_MS}ms${last ? ` (last error: ${(last as Error).message})` : ""}`,
  );
}

describe("Services in the docker compose cluster", () => {
  const project = new ComposeProject();
  let failed = false;
  let server = "";
  let clusterIp = "";
  let nodePort = 0;
  /** The webapp pods by name: their IP and node. */
  const pods = new Map<string, { ip: string; node: string }>();

  /**
   * A shell command in the client pod's container, through the engine (`docker exec`: a second,
   * where `ktl exec` through tsx costs several on this machine; ktl exec has its own tests).
   */
  const inClient = async (script: string, kind: "container" | "sandbox" = "container") => {
    const id = (
      await run("docker", [
        "ps",
        "-q",
        "--filter",
        `label=io.tskube.cluster=${project.name}`,
        "--filter",
        "label=io.tskube.pod.name=client",
        "--filter",
        `label=io.tskube.kind=${kind}`,
      ])
    ).stdout.trim();
    if (!id) throw new Error(`no running ${kind} of pod client`);
    return await run("docker", ["exec", id, "sh", "-c", script]);
  };
  /** busybox wget, one line per URL: "URL ANSWER" or "URL failed" (its -T crashes busybox 1.35). */
  const wgetAll = async (urls: string[]) => {
    const r = await inClient(
      urls.map((u) => `echo "${u} $(timeout 10 wget -qO- ${u} 2>&1 || echo failed)"`).join("; "),
    );
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim().split("\n");
  };

  beforeAll(
    async () => {
      await project.allocatePorts();
      server = `127.0.0.1:${project.ports.TSKUBE_APISERVER_0_PORT},127.0.0.1:${project.ports.TSKUBE_APISERVER_1_PORT}`;
      const bundled = await run(join(REPO_ROOT, "node_modules/.bin/tsx"), ["scripts/bundle-image.ts"]);
      expect(bundled.code, bundled.stderr).toBe(0);
      try {
        const up = await project.run(["up", "-d", "--build"], BUILD_TIMEOUT_MS);
        // On a loaded machine an apiserver can outlast its health checks' first window, and compose
        // then gives up on its dependents; a second `up` starts them once it is healthy.
        if (up.code !== 0) await project.mustRun(["up", "-d"], BUILD_TIMEOUT_MS);
        await project.waitHealthy(SERVICES, HEALTHY_TIMEOUT_MS);
        const applied = await ktlStdin(server, ["apply", "-f", "-"], WEBAPP);
        expect(applied.code, applied.stderr).toBe(0);
        // Ready endpoints for all three replicas, and the client pod running.
        await until("three ready webapp endpoints", async () => {
          const r = await ktl(server, ["get", "endpoints", "webapp", "-o", "yaml"]);
          const ep = parse(r.stdout) as { subsets?: { addresses?: { ip: string }[] }[] } | null;
          const ready = (ep?.subsets ?? []).flatMap((s) => s.addresses ?? []);
          return ready.length === 3 ? ready : undefined;
        });
        await until("the client pod running", async () => {
          const r = await ktl(server, ["get", "pod", "client", "-o", "yaml"]);
          return (parse(r.stdout) as PodManifest | null)?.status.phase === "Running" ? true : undefined;
        });
        const list = parse((await ktl(server, ["get", "pods", "-l", "app=webapp", "-o", "yaml"])).stdout) as {
          items: PodManifest[];
        };
        for (const p of list.items)
          pods.set(p.metadata.name, { ip: p.status.podIP ?? "", node: p.spec.nodeName ?? "" });
        const svc = parse((await ktl(server, ["get", "svc", "webapp", "-o", "yaml"])).stdout) as {
          spec: { clusterIP: string; ports: { nodePort: number }[] };
        };
        clusterIp = svc.spec.clusterIP;
        nodePort = svc.spec.ports[0]!.nodePort;
      } catch (err) {
        failed = true;
        throw err;
      }
    },
    BUILD_TIMEOUT_MS + HEALTHY_TIMEOUT_MS + 3 * WAIT_MS,
  );

  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail") failed = true;
  });

  afterAll(async () => {
    const down = await project.tearDown({ failed, tail: 60 });
    expect(down.code, down.stderr).toBe(0);
  }, 400_000);

  it("spreads the replicas over the three nodes", () => {
    expect([...pods.values()].map((p) => p.node).sort()).toEqual(NODES);
    for (const p of pods.values()) expect(p.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });

  it("every kube-proxy runs the iptables mode and programs the Service in its node's namespace", async () => {
    for (const n of [1, 2, 3]) {
      const logs = await run("docker", ["logs", await project.containerId(`kube-proxy-${n}`)]);
      expect(logs.stdout, `kube-proxy-${n}`).toMatch(/"mode":"iptables","reason":"--proxy-mode"/);
      // The service's rule in KUBE-SERVICES and one DNAT per replica, as iptables itself lists them.
      const rules = await until(`kube-proxy-${n} rules for webapp`, async () => {
        const r = await project.exec(`kube-proxy-${n}`, ["iptables-save", "-t", "nat"]);
        return r.stdout.includes(`-d ${clusterIp}/32`) ? r.stdout : undefined;
      });
      expect(rules).toMatch(
        new RegExp(`-A KUBE-SERVICES -d ${clusterIp.replaceAll(".", "\\.")}/32 .*--dport 80 -j KUBE-SVC-`),
      );
      for (const p of pods.values())
        expect(rules, `kube-proxy-${n}`).toContain(`-j DNAT --to-destination ${p.ip}:8080`);
    }
  });

  it("100 requests from the host to node-1's NodePort reach all three replicas", async () => {
    const url = `http://${await project.containerIp("node-1")}:${nodePort}/`;
    await until("the NodePort answering", () => fetchOnce(url));
    const seen = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      const name = await fetchOnce(url);
      seen.set(name, (seen.get(name) ?? 0) + 1);
    }
    // Each connection picks a replica at random (1/3 each): all three are seen but for odds of 1e-17.
    expect([...seen.keys()].sort()).toEqual([...pods.keys()].sort());
    expect([...seen.values()].reduce((a, b) => a + b, 0)).toBe(100);
  });

  it("a pod reaches the Service by its ClusterIP, on new connections spread over the replicas", async () => {
    const url = `http://${clusterIp}/`;
    const lines = await wgetAll(Array.from({ length: 30 }, () => url));
    const answers = lines.map((l) => l.slice(url.length + 1));
    for (const a of answers) expect([...pods.keys()], `answers: ${answers.join(", ")}`).toContain(a);
    // 30 connections at 1/3 each: every replica answers but for odds of 3·(2/3)^30 ≈ 1.6e-5.
    expect(new Set(answers).size).toBe(3);
  });

  it("a pod reaches the Service by the names webapp, webapp.default and webapp.default.svc.cluster.local", async () => {
    const names = ["webapp", "webapp.default", "webapp.default.svc.cluster.local"];
    const lines = await wgetAll(names.map((n) => `http://${n}/`));
    for (const [i, n] of names.entries()) {
      const answer = lines[i]!.slice(`http://${n}/ `.length);
      expect([...pods.keys()], `${n}: ${lines[i]}`).toContain(answer);
    }
  });

  it("a pod on node-1 reaches the pods of node-2 and node-3 by their pod IPs", async () => {
    const others = [...pods.entries()].filter(([, p]) => p.node !== "node-1");
    expect(others.map(([, p]) => p.node).sort()).toEqual(["node-2", "node-3"]);
    const lines = await wgetAll(others.map(([, p]) => `http://${p.ip}:8080/`));
    expect(lines).toEqual(others.map(([name, p]) => `http://${p.ip}:8080/ ${name}`));
  });

  it("after node-1's container restarts: kube-proxy-1 rejoins it, the adopted pod routes via it again, Services answer", async () => {
    // The pod's own container cannot touch the route (only its sandbox has NET_ADMIN); the sandbox
    // can: take the route away there, so only the restarted kubelet's adoption can bring it back.
    const denied = await inClient("ip route del 10.96.0.0/12");
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/not permitted/i);
    const removed = await inClient("ip route del 10.96.0.0/12", "sandbox");
    expect(removed.code, removed.stderr).toBe(0);
    const restarted = await run("docker", ["restart", "-t", "20", await project.containerId("node-1")]);
    expect(restarted.code, restarted.stderr).toBe(0);
    const nodeIp = await project.containerIp("node-1");
    // The restarted kubelet adopts the client pod's sandbox and sets its route via the node's
    // (possibly new) address; kube-proxy-1, left in the old namespace, is restarted by its health
    // check into the new one and programs it.
    const route = await until("the client pod's service route via node-1", async () => {
      const r = await inClient("ip route");
      return r.stdout.includes(`10.96.0.0/12 via ${nodeIp} `) ? r.stdout : undefined;
    });
    expect(route).toMatch(/^default via /m);
    const answer = await until("the ClusterIP from the client pod", async () => {
      const [line] = await wgetAll([`http://${clusterIp}/`]);
      const a = line!.split(" ")[1]!;
      return pods.has(a) ? a : undefined;
    });
    expect([...pods.keys()]).toContain(answer);
    const viaNodePort = await until("node-1's NodePort", () => fetchOnce(`http://${nodeIp}:${nodePort}/`));
    expect([...pods.keys()]).toContain(viaNodePort);
    const restarts = await run("docker", [
      "inspect",
      "-f",
      "{{.RestartCount}}",
      await project.containerId("kube-proxy-1"),
    ]);
    expect(Number(restarts.stdout.trim()), "kube-proxy-1 restart count").toBeGreaterThanOrEqual(1);
  });
});
