import { type Event, Lease, Node, Pod } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { rfc3339 } from "../pod-util.js";
import { fakeContext, settle, stored } from "../testing.js";
import { NodeLifecycleController } from "./node-lifecycle-controller.js";

const GRACE = 40_000;
const PERIOD = 5_000;

function node(name: string, heartbeat: number, opts: { ready?: string; zone?: string } = {}) {
  const at = rfc3339(heartbeat);
  return Node.fromPartial({
    metadata: {
      name,
      uid: `uid-${name}`,
      labels: opts.zone ? { "topology.kubernetes.io/zone": opts.zone } : {},
      creationTimestamp: at,
    },
    status: {
      conditions: [
        {
          type: "MemoryPressure",
          status: "False",
          reason: "KubeletHasSufficientMemory",
          lastHeartbeatTime: at,
        },
        { type: "DiskPressure", status: "False", reason: "KubeletHasNoDiskPressure", lastHeartbeatTime: at },
        { type: "PIDPressure", status: "False", reason: "KubeletHasSufficientPID", lastHeartbeatTime: at },
        { type: "Ready", status: opts.ready ?? "True", reason: "KubeletReady", lastHeartbeatTime: at },
      ],
    },
  });
}

function pod(name: string, nodeName: string) {
  return Pod.fromPartial({
    metadata: { name, namespace: "default", uid: `uid-${name}` },
    spec: { nodeName, containers: [{ name: "c", image: "busybox" }] },
    status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
  });
}

async function setup(nodes: Node[], pods: Pod[] = [], opts: { rate?: number; largeCluster?: number } = {}) {
  const f = fakeContext();
  const nlc = new NodeLifecycleController(f.ctx, {
    nodeMonitorGracePeriodMs: GRACE,
    nodeMonitorPeriodMs: PERIOD,
    nodeEvictionRate: opts.rate ?? 0.1,
    largeClusterSizeThreshold: opts.largeCluster ?? 50,
  });
  const nodeClient = f.client.resource<Node>("Node");
  const leaseClient = f.client.resource<Lease>("Lease");
  const podClient = f.client.resource<Pod>("Pod");
  for (const n of nodes) await nodeClient.create(n);
  for (const p of pods) await podClient.create(p);
  /** What the informers would show after the writes so far. */
  const refresh = async () => {
    for (const n of await stored<Node>(f.client, "Node")) nlc.nodes.store.upsert(n);
    for (const l of await stored<Lease>(f.client, "Lease")) nlc.leases.store.upsert(l);
    for (const p of await stored<Pod>(f.client, "Pod")) nlc.pods.store.upsert(p);
  };
  /** The kubelet of `name` renews its Lease now. */
  const renew = async (name: string) => {
    const spec = {
      holderIdentity: name,
      leaseDurationSeconds: 40,
      renewTime: new Date(f.clock.now()).toISOString(),
    };
    try {
      const cur = await leaseClient.get(name, { namespace: "kube-node-lease" });
      await leaseClient.update(Lease.fromPartial({ ...cur, spec }));
    } catch {
      await leaseClient.create(Lease.fromPartial({ metadata: { name, namespace: "kube-node-lease" }, spec }));
    }
  };
  const get = (name: string) => nodeClient.get(name);
  const syncAll = async () => {
    await refresh();
    for (const n of nlc.nodes.store.list()) await nlc.sync(n.metadata!.name);
    await refresh();
    await nlc.handleDisruption();
    await nlc.doNoExecuteTaintingPass();
    await refresh();
    await settle();
  };
  const taints = async (name: string) =>
    ((await get(name)).spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`).sort();
  const events = async () =>
    (await stored<Event>(f.client, "Event")).map((e) => `${e.reason}: ${e.message}`).sort();
  return { ...f, nlc, renew, refresh, get, syncAll, taints, events, podClient };
}

describe("node lifecycle controller", () => {
  it("leaves a node alone while its Lease is renewed within the grace period", async () => {
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    const s = await setup([node("n1", t0)]);
    await s.renew("n1");
    await s.syncAll();
    for (let i = 0; i < 20; i++) {
      await s.clock.step(PERIOD);
      await s.renew("n1");
      await s.syncAll();
    }
    // 100 s without a status heartbeat, but the Lease is fresh: the node is healthy.
    const ready = (await s.get("n1")).status!.conditions.find((c) => c.type === "Ready")!;
    expect(ready.status).toBe("True");
    expect(await s.taints("n1")).toEqual([]);
  });

  it("marks a node Unknown only after the grace period, taints it, marks its pods not ready, and untaints it when it is back", async () => {
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    const s = await setup([node("n1", t0), node("n2", t0)], [pod("p1", "n1"), pod("p2", "n2")]);
    await s.renew("n1");
    await s.renew("n2");
    await s.syncAll();
    // n1's kubelet stops; n2's keeps renewing.
    await s.clock.step(GRACE - 1_000);
    await s.renew("n2");
    await s.syncAll();
    expect((await s.get("n1")).status!.conditions.find((c) => c.type === "Ready")!.status).toBe("True");
    await s.clock.step(2_000);
    await s.renew("n2");
    await s.syncAll();
    const n1 = await s.get("n1");
    for (const c of n1.status!.conditions) {
      expect(c).toMatchObject({
        status: "Unknown",
        reason: "NodeStatusUnknown",
        message: "Kubelet stopped posting node status.",
      });
    }
    expect(await s.taints("n1")).toEqual([
      "node.kubernetes.io/unreachable:NoExecute",
      "node.kubernetes.io/unreachable:NoSchedule",
    ]);
    const noExecute = n1.spec!.taints.find((t) => t.effect === "NoExecute")!;
    expect(Date.parse(noExecute.timeAdded)).toBe(s.clock.now() - (s.clock.now() % 1000));
    expect(await s.taints("n2")).toEqual([]);
    const p1 = await s.podClient.get("p1");
    expect(p1.status!.conditions.find((c) => c.type === "Ready")!.status).toBe("False");
    const p2 = await s.podClient.get("p2");
    expect(p2.status!.conditions.find((c) => c.type === "Ready")!.status).toBe("True");
    expect(await s.events()).toEqual([
      "NodeNotReady: Node is not ready",
      "NodeNotReady: Node n1 status is now: NodeNotReady",
    ]);

    // The kubelet comes back and posts Ready.
    await s.clock.step(10_000);
    const back = await s.get("n1");
    await s.client.resource<Node>("Node").updateStatus({ ...back, status: node("n1", s.clock.now()).status });
    await s.renew("n1");
    await s.syncAll();
    expect(await s.taints("n1")).toEqual([]);
  });

  it("swaps unreachable for not-ready at once when the kubelet reports Ready=False", async () => {
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    const s = await setup([node("n1", t0), node("n2", t0)]);
    await s.syncAll();
    await s.clock.step(GRACE + 1_000);
    await s.renew("n2");
    await s.syncAll();
    expect(await s.taints("n1")).toContain("node.kubernetes.io/unreachable:NoExecute");
    const cur = await s.get("n1");
    await s.client
      .resource<Node>("Node")
      .updateStatus({ ...cur, status: node("n1", s.clock.now(), { ready: "False" }).status });
    await s.syncAll();
    expect(await s.taints("n1")).toEqual([
      "node.kubernetes.io/not-ready:NoExecute",
      "node.kubernetes.io/not-ready:NoSchedule",
    ]);
  });

  it("adds NoExecute taints at --node-eviction-rate nodes a second (token bucket, burst 1)", async () => {
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    // Two of four nodes die: the zone stays Normal (partial disruption needs more than two).
    const s = await setup([node("a", t0), node("b", t0), node("c", t0), node("d", t0)]);
    await s.syncAll();
    const tick = async (ms: number) => {
      await s.clock.step(ms);
      await s.renew("c");
      await s.renew("d");
      await s.syncAll();
    };
    await tick(GRACE + 1_000);
    const tainted = async () => {
      const out: string[] = [];
      for (const n of ["a", "b"])
        if ((await s.taints(n)).includes("node.kubernetes.io/unreachable:NoExecute")) out.push(n);
      return out;
    };
    expect(await tainted()).toHaveLength(1);
    // Both are NoSchedule-tainted at once; only the NoExecute taint waits for a token.
    expect(await s.taints("a")).toContain("node.kubernetes.io/unreachable:NoSchedule");
    expect(await s.taints("b")).toContain("node.kubernetes.io/unreachable:NoSchedule");
    expect(s.nlc.queued()).toHaveLength(1);
    await tick(9_000);
    expect(await tainted()).toHaveLength(1);
    await tick(1_000);
    expect(await tainted()).toEqual(["a", "b"]);
    expect(s.nlc.queued()).toEqual([]);
  });

  it("stops NoExecute tainting in a partially disrupted small cluster and in master disruption mode", async () => {
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    const s = await setup([node("a", t0), node("b", t0), node("c", t0), node("d", t0)]);
    await s.syncAll();
    await s.clock.step(GRACE + 1_000);
    await s.renew("d");
    await s.syncAll();
    await s.clock.step(60_000);
    await s.renew("d");
    await s.syncAll();
    // Three of four unready (75% ≥ 55%) in a cluster of at most 50 nodes: no evictions at all.
    expect(s.nlc.zoneStates.get("")).toBe("PartialDisruption");
    for (const n of ["a", "b", "c"])
      expect(await s.taints(n)).toEqual(["node.kubernetes.io/unreachable:NoSchedule"]);
    // Then the last one goes too: every node unready means the fault is likely ours.
    await s.clock.step(GRACE + 1_000);
    await s.syncAll();
    expect(s.nlc.zoneStates.get("")).toBe("FullDisruption");
    for (const n of ["a", "b", "c", "d"])
      expect(await s.taints(n)).not.toContain("node.kubernetes.io/unreachable:NoExecute");
  });

  it("taints at --secondary-node-eviction-rate in a partially disrupted zone of a large cluster", async () => {
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    const f = await setup([node("a", t0), node("b", t0), node("c", t0), node("d", t0)], [], {
      largeCluster: 3,
    });
    await f.syncAll();
    await f.clock.step(GRACE + 1_000);
    await f.renew("d");
    await f.syncAll();
    const unreachable = async () => {
      let n = 0;
      for (const x of ["a", "b", "c"])
        if ((await f.taints(x)).includes("node.kubernetes.io/unreachable:NoExecute")) n++;
      return n;
    };
    // The first taint went out before the zone was seen as disrupted (as in Kubernetes, whose
    // zone states lag a monitor period); then the zone slows to 0.01 nodes a second.
    expect(f.nlc.zoneStates.get("")).toBe("PartialDisruption");
    const first = await unreachable();
    expect(first).toBe(1);
    for (let i = 0; i < 10; i++) {
      await f.clock.step(PERIOD);
      await f.renew("d");
      await f.syncAll();
    }
    expect(await unreachable()).toBe(first);
    for (let i = 0; i < 10; i++) {
      await f.clock.step(10_000);
      await f.renew("d");
      await f.syncAll();
    }
    expect(await unreachable()).toBe(first + 1);
  });

  it("leaves master disruption mode when a node is ready again, with a fresh grace period for all", async () => {
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    const s = await setup([node("a", t0), node("b", t0)]);
    await s.syncAll();
    await s.clock.step(GRACE + 1_000);
    await s.syncAll();
    await s.syncAll();
    expect(s.nlc.zoneStates.get("")).toBe("FullDisruption");
    // a's kubelet reaches us again; b's stays silent.
    const cur = await s.get("a");
    await s.client.resource<Node>("Node").updateStatus({ ...cur, status: node("a", s.clock.now()).status });
    await s.syncAll();
    await s.syncAll();
    expect(s.nlc.zoneStates.get("")).toBe("Normal");
    // b was already Unknown; its NoExecute taint comes from the taint queue at the normal rate.
    await s.clock.step(1_000);
    await s.syncAll();
    expect(await s.taints("b")).toContain("node.kubernetes.io/unreachable:NoExecute");
    expect(await s.taints("a")).toEqual([]);
  });

  it("marks a node that never posted a Ready condition Unknown after the startup grace period", async () => {
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    const bare = Node.fromPartial({ metadata: { name: "n1", uid: "u1", creationTimestamp: rfc3339(t0) } });
    const s = await setup([bare, node("n2", t0)]);
    await s.syncAll();
    await s.clock.step(59_000);
    await s.renew("n2");
    await s.syncAll();
    expect((await s.get("n1")).status?.conditions ?? []).toEqual([]);
    await s.clock.step(2_000);
    await s.renew("n2");
    await s.syncAll();
    const ready = (await s.get("n1")).status!.conditions.find((c) => c.type === "Ready")!;
    expect(ready).toMatchObject({
      status: "Unknown",
      reason: "NodeStatusNeverUpdated",
      message: "Kubelet never posted node status.",
    });
  });
});
