import { type Event, Node, Pod, type Toleration } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { fakeContext, settle, stored } from "../testing.js";
import { minTolerationMs, TaintEvictionController } from "./taint-eviction-controller.js";

const UNREACHABLE = { key: "node.kubernetes.io/unreachable", effect: "NoExecute" };

function node(taints: { key: string; effect: string }[] = []) {
  return Node.fromPartial({ metadata: { name: "n1", uid: "uid-n1" }, spec: { taints } });
}

function pod(name: string, tolerations: Partial<Toleration>[] = []) {
  return Pod.fromPartial({
    metadata: { name, namespace: "default", uid: `uid-${name}` },
    spec: { nodeName: "n1", tolerations, containers: [{ name: "c", image: "busybox" }] },
    status: { phase: "Running" },
  });
}

const tolerateFor = (seconds: number) => ({ ...UNREACHABLE, operator: "Exists", tolerationSeconds: seconds });

async function setup(pods: Pod[]) {
  const f = fakeContext();
  const tec = new TaintEvictionController(f.ctx);
  const nodes = f.client.resource<Node>("Node");
  const podClient = f.client.resource<Pod>("Pod");
  tec.nodes.store.upsert(await nodes.create(node()));
  for (const p of pods) tec.pods.store.upsert(await podClient.create(p));
  const taint = async (taints: { key: string; effect: string }[]) => {
    const cur = await nodes.get("n1");
    tec.nodes.store.upsert(await nodes.update({ ...cur, spec: { ...cur.spec!, taints } as Node["spec"] }));
  };
  /** One reconcile of every pod, as the workqueue would run them; returns the requeue delays. */
  const syncAll = async () => {
    const out: Record<string, number | undefined> = {};
    for (const p of tec.pods.store.list()) {
      const r = await tec.sync(`default/${p.metadata!.name}`);
      out[p.metadata!.name] = r?.requeueAfterMs;
    }
    for (const p of tec.pods.store.list())
      if (!(await podClient.list()).items.some((x) => x.metadata!.uid === p.metadata!.uid))
        tec.pods.store.delete(`default/${p.metadata!.name}`);
    await settle();
    return out;
  };
  const remaining = async () => (await stored<Pod>(f.client, "Pod")).map((p) => p.metadata!.name).sort();
  const events = async () =>
    (await stored<Event>(f.client, "Event")).map((e) => `${e.reason}: ${e.message}`).sort();
  return { ...f, tec, taint, syncAll, remaining, events };
}

describe("taint eviction controller", () => {
  it("computes the toleration time as Kubernetes does", () => {
    const taints = [
      { $type: "tskube.v1.Taint", key: "a", value: "", effect: "NoExecute", timeAdded: "" },
      { $type: "tskube.v1.Taint", key: "b", value: "", effect: "NoExecute", timeAdded: "" },
    ] as const;
    const t = (key: string, s?: number) =>
      ({
        $type: "tskube.v1.Toleration",
        key,
        operator: "Exists",
        value: "",
        effect: "",
        tolerationSeconds: s,
      }) as Toleration;
    expect(minTolerationMs(taints, [t("a")])).toBe(0);
    expect(minTolerationMs(taints, [t("a"), t("b")])).toBe(-1);
    expect(minTolerationMs(taints, [t("a", 30), t("b", 10)])).toBe(10_000);
    expect(minTolerationMs(taints, [t("a", 30), t("b")])).toBe(30_000);
    expect(minTolerationMs(taints, [t("a", -5), t("b")])).toBe(0);
  });

  it("evicts untolerating pods at once and tolerating ones when their tolerationSeconds run out", async () => {
    const s = await setup([
      pod("bare"),
      pod("short", [tolerateFor(5)]),
      pod("long", [tolerateFor(300)]),
      pod("forever", [{ ...UNREACHABLE, operator: "Exists" }]),
    ]);
    expect(await s.syncAll()).toEqual({
      bare: undefined,
      short: undefined,
      long: undefined,
      forever: undefined,
    });
    expect(await s.remaining()).toEqual(["bare", "forever", "long", "short"]);

    await s.taint([UNREACHABLE]);
    const delays = await s.syncAll();
    expect(await s.remaining()).toEqual(["forever", "long", "short"]);
    expect(delays).toMatchObject({ short: 5_000, long: 300_000, forever: undefined });

    // Reconciles before the time is up (a pod update, a resync) do not restart the clock.
    await s.clock.step(3_000);
    expect((await s.syncAll()).short).toBe(2_000);
    await s.clock.step(2_000);
    await s.syncAll();
    expect(await s.remaining()).toEqual(["forever", "long"]);
    const events = await s.events();
    expect(events).toContain("TaintManagerEviction: Marking for deletion Pod default/bare");
    expect(events).toContain("TaintManagerEviction: Marking for deletion Pod default/short");
  });

  it("records why the pod goes (DisruptionTarget) before deleting it", async () => {
    const s = await setup([pod("bare")]);
    const podClient = s.client.resource<Pod>("Pod");
    const seen: Pod[] = [];
    const update = podClient.updateStatus.bind(podClient);
    podClient.updateStatus = async (p: Pod) => {
      seen.push(p);
      return update(p);
    };
    await s.taint([UNREACHABLE]);
    await s.syncAll();
    expect(seen[0]!.status!.conditions).toEqual([
      expect.objectContaining({ type: "DisruptionTarget", status: "True", reason: "DeletionByTaintManager" }),
    ]);
    expect(await s.remaining()).toEqual([]);
  });

  it("cancels a scheduled eviction when the taint goes away, and starts afresh if it comes back", async () => {
    const s = await setup([pod("short", [tolerateFor(5)])]);
    await s.taint([UNREACHABLE]);
    await s.syncAll();
    await s.clock.step(4_000);
    await s.taint([]);
    expect(await s.syncAll()).toEqual({ short: undefined });
    expect(s.tec.evictionTime("default/short")).toBeUndefined();
    expect(await s.events()).toContain("TaintManagerEviction: Cancelling deletion of Pod default/short");
    await s.clock.step(2_000);
    await s.taint([UNREACHABLE]);
    expect(await s.syncAll()).toEqual({ short: 5_000 });
    await s.clock.step(4_000);
    await s.syncAll();
    expect(await s.remaining()).toEqual(["short"]);
    await s.clock.step(1_000);
    await s.syncAll();
    expect(await s.remaining()).toEqual([]);
  });

  it("ignores NoSchedule taints", async () => {
    const s = await setup([pod("bare")]);
    await s.taint([{ key: "node.kubernetes.io/unreachable", effect: "NoSchedule" }]);
    await s.syncAll();
    expect(await s.remaining()).toEqual(["bare"]);
  });
});
