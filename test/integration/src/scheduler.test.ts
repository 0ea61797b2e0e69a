import { readFileSync } from "node:fs";
import { type Event, KINDS, type Lease, Node, Pod } from "@tskube/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import { type ComponentHandle, freePort, startComponent, waitFor } from "./harness.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;

/** A hollow node: only the Node object, as kubemark's hollow nodes register. */
function hollowNode(
  name: string,
  cpu: string,
  labels: Record<string, string> = {},
  taints: { key: string; value: string; effect: string }[] = [],
) {
  return Node.fromPartial({
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...labels } },
    spec: { taints },
    status: {
      allocatable: { cpu, memory: "4Gi", pods: "110" },
      capacity: { cpu, memory: "4Gi", pods: "110" },
      conditions: [{ type: "Ready", status: "True" }],
    },
  });
}

function podSpec(name: string, cpu: string, extra: Record<string, unknown> = {}) {
  return Pod.fromPartial({
    metadata: { name, namespace: "default" },
    spec: { containers: [{ name: "c", image: "busybox", resources: { requests: { cpu } } }], ...extra },
  });
}

describe("scheduler", () => {
  const c = useCluster();
  const schedulers: ComponentHandle[] = [];
  const flags = () => [
    "--server",
    c.servers.join(","),
    "--leader-elect-lease-duration",
    "3s",
    "--leader-elect-renew-deadline",
    "2s",
    "--leader-elect-retry-period",
    "500ms",
  ];

  beforeAll(async () => {
    schedulers.push(await startComponent("scheduler", [...flags(), "--id", "sched-a"]));
    schedulers.push(await startComponent("scheduler", [...flags(), "--id", "sched-b"]));
  });
  afterAll(async () => {
    for (const s of schedulers) await s.stop();
  });

  const pods = () => c.client.resource<Pod>(kind("Pod") as never);
  const nodeOf = async (name: string) =>
    (await pods().get(name, { namespace: "default" })).spec?.nodeName ?? "";

  it("binds pods to nodes that fit and spreads a burst across them", async () => {
    const nodes = c.client.resource<Node>(kind("Node") as never);
    await nodes.create(hollowNode("node-1", "2"));
    await nodes.create(hollowNode("node-2", "2"));
    for (let i = 0; i < 6; i++) await pods().create(podSpec(`web-${i}`, "500m"));
    await waitFor(
      "all pods bound",
      async () => (await Promise.all([0, 1, 2, 3, 4, 5].map((i) => nodeOf(`web-${i}`)))).every(Boolean),
      20_000,
    );
    const placed = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => nodeOf(`web-${i}`)));
    expect(placed.filter((n) => n === "node-1").length).toBe(3);
    expect(placed.filter((n) => n === "node-2").length).toBe(3);
    const ev = (
      await c.client
        .resource<Event>(kind("Event") as never)
        .list({ namespace: "default", fieldSelector: "reason=Scheduled" })
    ).items;
    expect(ev.some((e) => e.message === `Successfully assigned default/web-0 to ${placed[0]}`)).toBe(true);
  });

  it("explains why a pod cannot be placed, then places it when a node appears", async () => {
    const nodes = c.client.resource<Node>(kind("Node") as never);
    await nodes.create(
      hollowNode("tainted", "8", {}, [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }]),
    );
    await pods().create(podSpec("big", "3"));
    const events = c.client.resource<Event>(kind("Event") as never);
    await waitFor(
      "FailedScheduling",
      async () =>
        (
          await events.list({
            namespace: "default",
            fieldSelector: "reason=FailedScheduling,involvedObject.name=big",
          })
        ).items.length > 0,
      20_000,
    );
    const failed = (
      await events.list({
        namespace: "default",
        fieldSelector: "reason=FailedScheduling,involvedObject.name=big",
      })
    ).items[0]!;
    expect(failed.message).toBe(
      "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}.",
    );
    await waitFor(
      "PodScheduled=False",
      async () =>
        (await pods().get("big", { namespace: "default" })).status?.conditions.some(
          (x) => x.type === "PodScheduled",
        ) ?? false,
      20_000,
    );
    const pending = await pods().get("big", { namespace: "default" });
    expect(pending.status?.conditions.find((x) => x.type === "PodScheduled")).toMatchObject({
      status: "False",
      reason: "Unschedulable",
    });
    await nodes.create(hollowNode("node-3", "4"));
    await waitFor("big bound", async () => (await nodeOf("big")) === "node-3", 20_000);
  });

  it("honours nodeSelector and tolerations", async () => {
    const nodes = c.client.resource<Node>(kind("Node") as never);
    await nodes.create(hollowNode("ssd-1", "4", { disktype: "ssd" }));
    await pods().create(podSpec("fast", "100m", { nodeSelector: { disktype: "ssd" } }));
    await pods().create(
      podSpec("gpu-job", "1", {
        tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }],
        nodeSelector: { "kubernetes.io/hostname": "tainted" },
      }),
    );
    await waitFor(
      "fast and gpu-job bound",
      async () => (await nodeOf("fast")) === "ssd-1" && (await nodeOf("gpu-job")) === "tainted",
      20_000,
    );
  });

  it("counts a node's pods until they are deleted or finish", async () => {
    const nodes = c.client.resource<Node>(kind("Node") as never);
    await nodes.create(hollowNode("small", "1", { size: "small" }));
    const onSmall = { nodeSelector: { size: "small" } };
    await pods().create(podSpec("first", "800m", onSmall));
    await waitFor("first bound", async () => (await nodeOf("first")) === "small", 20_000);
    await pods().create(podSpec("second", "800m", onSmall));
    await waitFor(
      "second refused for cpu",
      async () =>
        (await pods().get("second", { namespace: "default" })).status?.conditions.some(
          (x) => x.type === "PodScheduled" && x.status === "False",
        ) ?? false,
      20_000,
    );
    expect(await nodeOf("second")).toBe("");
    // The delete reaches the scheduler's cache through its informer and frees the node's cpu.
    await pods().delete("first", { namespace: "default", gracePeriodSeconds: 0 });
    await waitFor("second bound", async () => (await nodeOf("second")) === "small", 20_000);
    // A pod that finished no longer holds its requests either.
    const second = await pods().get("second", { namespace: "default" });
    await pods().updateStatus({ ...second, status: { ...second.status!, phase: "Succeeded" } });
    await pods().create(podSpec("third", "800m", onSmall));
    await waitFor("third bound", async () => (await nodeOf("third")) === "small", 20_000);
  });

  it("rejects a percentage of nodes to score outside 0-100", async () => {
    const err = await startComponent("scheduler", [...flags(), "--percentage-of-nodes-to-score", "101"]).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/scheduler exited with 2/);
    const logFile = /log: (\S+)/.exec(err!.message)![1]!;
    await waitFor("log written", async () => readFileSync(logFile, "utf8").length > 0, 5_000);
    expect(readFileSync(logFile, "utf8")).toContain(
      "percentageOfNodesToScore: Invalid value: 101: not in valid range [0-100]",
    );
  });

  it("keeps scheduling after the leader is SIGKILLed: the standby takes the lease", async () => {
    const leases = c.client.resource<Lease>(kind("Lease") as never);
    const lease = await leases.get("kube-scheduler", { namespace: "kube-system" });
    const leaderId = lease.spec?.holderIdentity;
    expect(["sched-a", "sched-b"]).toContain(leaderId);
    const leader = schedulers[leaderId === "sched-a" ? 0 : 1]!;
    await leader.kill();
    await pods().create(podSpec("after-failover", "100m"));
    await waitFor(
      "the standby binds the new pod",
      async () => (await nodeOf("after-failover")) !== "",
      20_000,
    );
    const now = await leases.get("kube-scheduler", { namespace: "kube-system" });
    expect(now.spec?.holderIdentity).not.toBe(leaderId);
    expect(now.spec?.leaseTransitions).toBeGreaterThanOrEqual(1);
  });
});

describe("hollow nodes (the fake runtime)", () => {
  const c = useCluster();
  const kubelets: ComponentHandle[] = [];
  let scheduler: ComponentHandle;

  beforeAll(async () => {
    scheduler = await startComponent("scheduler", [
      "--server",
      c.servers.join(","),
      "--leader-elect",
      "false",
    ]);
    for (const n of [1, 2]) {
      kubelets.push(
        await startComponent("kubelet", [
          "--server",
          c.servers.join(","),
          "--runtime",
          "fake",
          "--node-name",
          `hollow-${n}`,
          "--pod-cidr",
          `10.${n}.0.0/16`,
          "--cpu",
          "4",
          "--memory",
          "8Gi",
          "--fake-start-delay",
          "50ms",
          "--port",
          String(await freePort()),
        ]),
      );
    }
  });
  afterAll(async () => {
    for (const k of kubelets) await k.stop();
    await scheduler?.stop();
  });

  it("runs 40 pods to Running across two hollow nodes without containers", async () => {
    const pods = c.client.resource<Pod>(kind("Pod") as never);
    for (let i = 0; i < 40; i++) await pods.create(podSpec(`h-${i}`, "100m"));
    await waitFor(
      "40 pods Running",
      async () =>
        (await pods.list({ namespace: "default", fieldSelector: "status.phase=Running" })).items.length ===
        40,
      60_000,
    );
    const running = (await pods.list({ namespace: "default" })).items;
    const perNode = new Map<string, number>();
    for (const p of running) perNode.set(p.spec!.nodeName, (perNode.get(p.spec!.nodeName) ?? 0) + 1);
    expect([...perNode.keys()].sort()).toEqual(["hollow-1", "hollow-2"]);
    expect(new Set(running.map((p) => p.status!.podIp)).size).toBe(40);
    expect(running.every((p) => p.status!.containerStatuses[0]!.ready)).toBe(true);
  });
});
