import { type Event, objectKey, Pod, ReplicaSet } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { fakeContext, settle, stored } from "../testing.js";
import { ReplicaSetController } from "./replicaset-controller.js";
import { POD_DELETION_COST } from "./victims.js";

const LABELS = { app: "web" };

function replicaSet(replicas: number, extra: { minReadySeconds?: number; generation?: number } = {}) {
  return ReplicaSet.fromPartial({
    metadata: { name: "web", namespace: "default", uid: "rs-uid", generation: extra.generation ?? 1 },
    spec: {
      replicas,
      minReadySeconds: extra.minReadySeconds ?? 0,
      selector: { matchLabels: LABELS },
      template: {
        metadata: { labels: { ...LABELS, tier: "front" } },
        spec: { containers: [{ name: "c", image: "nginx" }] },
      },
    },
  });
}

function pod(
  name: string,
  opts: {
    owned?: boolean;
    labels?: Record<string, string>;
    ready?: string;
    cost?: string;
    node?: string;
  } = {},
) {
  return Pod.fromPartial({
    metadata: {
      name,
      namespace: "default",
      uid: `uid-${name}`,
      resourceVersion: "1",
      labels: opts.labels ?? { ...LABELS, tier: "front" },
      annotations: opts.cost ? { [POD_DELETION_COST]: opts.cost } : {},
      creationTimestamp: "2026-01-01T00:00:00Z",
      ownerReferences:
        opts.owned === false
          ? []
          : [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web", uid: "rs-uid", controller: true }],
    },
    spec: { nodeName: opts.node ?? "node-1", containers: [{ name: "c", image: "nginx" }] },
    status: {
      phase: "Running",
      conditions: opts.ready ? [{ type: "Ready", status: "True", lastTransitionTime: opts.ready }] : [],
    },
  });
}

async function setup(rs: ReplicaSet, pods: Pod[] = []) {
  const f = fakeContext();
  const rsc = new ReplicaSetController(f.ctx);
  // The apiserver holds what the cache holds; the controller writes to the apiserver only.
  const created = await f.client.resource<ReplicaSet>("ReplicaSet").create(rs);
  rsc.replicaSets.store.upsert(created);
  for (const p of pods) rsc.pods.store.upsert(await f.client.resource<Pod>("Pod").create(p));
  const events = async () =>
    (await stored<Event>(f.client, "Event")).map((e) => `${e.reason}: ${e.message}`).sort();
  return { ...f, rsc, rs: created, events };
}

describe("ReplicaSet controller", () => {
  it("creates the missing pods from the template, owned by the ReplicaSet, and records events", async () => {
    const { client, rsc, events } = await setup(replicaSet(3));
    await rsc.sync("default/web");
    const pods = await stored<Pod>(client, "Pod");
    expect(pods.length).toBe(3);
    for (const p of pods) {
      expect(p.metadata!.name).toMatch(/^web-/);
      expect(p.metadata!.labels).toEqual({ app: "web", tier: "front" });
      expect(p.metadata!.ownerReferences).toMatchObject([
        {
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          name: "web",
          uid: "rs-uid",
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      expect(p.spec!.containers[0]!.image).toBe("nginx");
    }
    await settle();
    expect(await events()).toEqual(
      pods.map((p) => `SuccessfulCreate: Created pod: ${p.metadata!.name}`).sort(),
    );
  });

  it("does not create again while the cache has not seen its creations (expectations)", async () => {
    const { client, rsc } = await setup(replicaSet(3));
    await rsc.sync("default/web");
    // The cache is still empty: a second sync must not make three more.
    await rsc.sync("default/web");
    expect((await stored<Pod>(client, "Pod")).length).toBe(3);
    expect(rsc.expectations.pending("default/web")).toEqual({ add: 3, del: 0 });
    const pods = await stored<Pod>(client, "Pod");
    for (const p of pods) {
      rsc.pods.store.upsert(p);
      rsc.addPod(p);
    }
    expect(rsc.expectations.satisfied("default/web")).toBe(true);
    await rsc.sync("default/web");
    expect((await stored<Pod>(client, "Pod")).length).toBe(3);
  });

  it("creates in slow-start batches, stops at the first failure and reports ReplicaFailure", async () => {
    const { client, rsc, events } = await setup(replicaSet(10));
    let attempts = 0;
    client.resource<Pod>("Pod").beforeCreate = () => {
      if (++attempts > 3) throw new Error('pods "web-" is forbidden: exceeded quota');
    };
    await expect(rsc.sync("default/web")).rejects.toThrow(/exceeded quota/);
    // Batches 1 and 2 succeed; the batch of 4 fails and nothing more is tried.
    expect(attempts).toBe(7);
    expect((await stored<Pod>(client, "Pod")).length).toBe(3);
    // The 7 pods never created are not waited for.
    expect(rsc.expectations.pending("default/web")).toEqual({ add: 3, del: 0 });
    const [rs] = await stored<ReplicaSet>(client, "ReplicaSet");
    expect(rs!.status!.conditions).toMatchObject([
      {
        type: "ReplicaFailure",
        status: "True",
        reason: "FailedCreate",
        message: 'pods "web-" is forbidden: exceeded quota',
      },
    ]);
    await settle();
    const ev = await events();
    expect(ev.filter((e) => e.startsWith("FailedCreate"))).toEqual([
      'FailedCreate: Error creating: pods "web-" is forbidden: exceeded quota',
    ]);
    const failed = (await stored<Event>(client, "Event")).find((e) => e.reason === "FailedCreate")!;
    expect(failed.count).toBe(4);
    expect(ev.filter((e) => e.startsWith("SuccessfulCreate")).length).toBe(3);
  });

  it("adopts an orphan pod that matches its selector and holds the count by removing one", async () => {
    const orphan = pod("bare", { owned: false, ready: "2026-01-01T00:00:00Z" });
    const { client, rsc } = await setup(replicaSet(2), [
      pod("web-a", { ready: "2026-01-01T00:00:00Z" }),
      pod("web-b"),
      orphan,
    ]);
    await rsc.sync("default/web");
    const pods = await stored<Pod>(client, "Pod");
    const bare = pods.find((p) => p.metadata!.name === "bare")!;
    expect(bare.metadata!.ownerReferences).toMatchObject([
      { kind: "ReplicaSet", name: "web", uid: "rs-uid", controller: true },
    ]);
    // Three pods for two replicas: the not-ready one goes.
    expect(pods.map((p) => p.metadata!.name).sort()).toEqual(["bare", "web-a"]);
    expect(rsc.expectations.pending("default/web")).toEqual({ add: 0, del: 1 });
  });

  it("does not adopt pods controlled by someone else, nor when the ReplicaSet is gone from the apiserver", async () => {
    const other = pod("other", { owned: false });
    other.metadata!.ownerReferences = [
      {
        $type: "tskube.v1.OwnerReference",
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: "x",
        uid: "x",
        controller: true,
      },
    ];
    const { client, rsc } = await setup(replicaSet(1), [other, pod("bare", { owned: false })]);
    await client.resource("ReplicaSet").delete("web", { namespace: "default" });
    await expect(rsc.sync("default/web")).rejects.toThrow(/not found|is gone/);
    const pods = await stored<Pod>(client, "Pod");
    expect(pods.find((p) => p.metadata!.name === "bare")!.metadata!.ownerReferences).toEqual([]);
    expect(pods.find((p) => p.metadata!.name === "other")!.metadata!.ownerReferences[0]!.uid).toBe("x");
  });

  it("claims only its own pods and its namespace's orphans: a matching orphan elsewhere is left alone", async () => {
    const elsewhere = pod("elsewhere", { owned: false });
    elsewhere.metadata!.namespace = "other";
    const { client, rsc } = await setup(replicaSet(2), [pod("web-a"), elsewhere]);
    await rsc.sync("default/web");
    const pods = await stored<Pod>(client, "Pod");
    expect(pods.find((p) => p.metadata!.name === "elsewhere")!.metadata!.ownerReferences).toEqual([]);
    expect(pods.filter((p) => p.metadata!.namespace === "default").length).toBe(2);
    expect(rsc.expectations.pending("default/web")).toEqual({ add: 1, del: 0 });
  });

  it("adopts a pod that another controller released, as soon as the cache shows it without one", async () => {
    const p = pod("freed", { owned: false });
    p.metadata!.ownerReferences = [
      {
        $type: "tskube.v1.OwnerReference",
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: "x",
        uid: "x",
        controller: true,
      },
    ];
    const { client, rsc } = await setup(replicaSet(1), [p]);
    const cached = rsc.pods.store.getByName("default", "freed")!;
    const freed = await client
      .resource<Pod>("Pod")
      .update({ ...cached, metadata: { ...cached.metadata!, ownerReferences: [] } });
    rsc.pods.store.upsert(freed);
    await rsc.sync("default/web");
    const pods = await stored<Pod>(client, "Pod");
    expect(pods.map((x) => x.metadata!.name)).toEqual(["freed"]);
    expect(pods[0]!.metadata!.ownerReferences).toMatchObject([
      { kind: "ReplicaSet", name: "web", uid: "rs-uid" },
    ]);
  });

  it("releases a pod whose labels stop matching and makes a replacement", async () => {
    const { client, rsc } = await setup(replicaSet(2), [
      pod("web-a"),
      pod("web-b", { labels: { app: "debug" } }),
    ]);
    await rsc.sync("default/web");
    const pods = await stored<Pod>(client, "Pod");
    expect(pods.find((p) => p.metadata!.name === "web-b")!.metadata!.ownerReferences).toEqual([]);
    expect(pods.length).toBe(3);
    expect(pods.filter((p) => p.metadata!.ownerReferences.length === 1).length).toBe(2);
  });

  it("scales down the cheapest pods first, pod-deletion-cost included, and waits for the deletions", async () => {
    const ready = "2026-01-01T00:00:00Z";
    const { client, rsc, events } = await setup(replicaSet(2), [
      pod("keep-1", { ready }),
      pod("keep-2", { ready, cost: "10" }),
      pod("cheap", { ready, cost: "-10" }),
      pod("not-ready"),
    ]);
    await rsc.sync("default/web");
    expect((await stored<Pod>(client, "Pod")).map((p) => p.metadata!.name).sort()).toEqual([
      "keep-1",
      "keep-2",
    ]);
    expect(rsc.expectations.pending("default/web")).toEqual({ add: 0, del: 2 });
    // The cache still shows four pods: no further deletion until they are seen going.
    await rsc.sync("default/web");
    expect((await stored<Pod>(client, "Pod")).length).toBe(2);
    // Seen twice (a graceful deletion's update, then the delete), counted once each.
    for (const name of ["cheap", "not-ready"]) {
      const p = rsc.pods.store.get(`default/${name}`)!;
      const terminating = {
        ...p,
        metadata: { ...p.metadata!, deletionTimestamp: ready, resourceVersion: "9" },
      };
      rsc.updatePod(p, terminating);
      rsc.pods.store.delete(objectKey(p));
      rsc.deletePod(terminating);
    }
    expect(rsc.expectations.satisfied("default/web")).toBe(true);
    await settle();
    expect(await events()).toEqual([
      "SuccessfulDelete: Deleted pod: cheap",
      "SuccessfulDelete: Deleted pod: not-ready",
    ]);
  });

  it("writes status: replicas, ready, available after minReadySeconds, fully labeled, observed generation", async () => {
    const f = await setup(replicaSet(3, { minReadySeconds: 30, generation: 4 }), [
      pod("old-ready", { ready: "2025-12-31T23:59:00Z" }),
      pod("new-ready", { ready: "2025-12-31T23:59:50Z" }),
      pod("partly-labeled", { labels: LABELS }),
    ]);
    const r = await f.rsc.sync("default/web");
    const [rs] = await stored<ReplicaSet>(f.client, "ReplicaSet");
    expect(rs!.status).toMatchObject({
      replicas: 3,
      fullyLabeledReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 1,
      observedGeneration: 4,
    });
    expect(r).toBeUndefined();
    // Once every pod is ready but not yet available, the controller asks to come back.
    const p = f.rsc.pods.store.get("default/partly-labeled")!;
    f.rsc.pods.store.upsert({
      ...p,
      status: {
        ...p.status!,
        conditions: [
          {
            $type: "tskube.v1.PodCondition",
            type: "Ready",
            status: "True",
            lastTransitionTime: "2025-12-31T23:59:55Z",
            lastProbeTime: "",
            reason: "",
            message: "",
          },
        ],
      },
    });
    f.rsc.replicaSets.store.upsert(rs!);
    expect(await f.rsc.sync("default/web")).toEqual({ requeueAfterMs: 30_000 });
  });

  it("wakes the right ReplicaSets from pod events", async () => {
    const { rsc } = await setup(replicaSet(1));
    // An orphan with other labels concerns nobody; relabelled to match, it concerns "web".
    const stranger = pod("stranger", { owned: false, labels: { app: "other" } });
    rsc.addPod(stranger);
    expect(rsc.controller.queueLength()).toBe(0);
    rsc.updatePod(stranger, {
      ...stranger,
      metadata: { ...stranger.metadata!, labels: LABELS, resourceVersion: "2" },
    });
    expect(rsc.controller.queueLength()).toBe(1);
    // An owned pod's arrival is the creation the ReplicaSet waits for.
    rsc.expectations.expectCreations("default/web", 1);
    const owned = pod("web-a");
    rsc.addPod(owned);
    expect(rsc.expectations.satisfied("default/web")).toBe(true);
    // A graceful deletion counts as the deletion the ReplicaSet waits for.
    rsc.expectations.expectDeletions("default/web", ["default/web-a"]);
    rsc.updatePod(owned, {
      ...owned,
      metadata: { ...owned.metadata!, deletionTimestamp: "2026-01-01T00:00:00Z", resourceVersion: "3" },
    });
    expect(rsc.expectations.satisfied("default/web")).toBe(true);
    // Pods of a ReplicaSet the cache does not have (another uid) change nothing.
    rsc.expectations.expectCreations("default/web", 1);
    const foreign = pod("web-b");
    foreign.metadata!.ownerReferences[0]!.uid = "older-rs-uid";
    rsc.addPod(foreign);
    expect(rsc.expectations.satisfied("default/web")).toBe(false);
  });

  it("forgets a ReplicaSet that is gone", async () => {
    const { rsc } = await setup(replicaSet(1));
    await rsc.sync("default/web");
    rsc.replicaSets.store.delete("default/web");
    expect(await rsc.sync("default/web")).toBeUndefined();
    expect(rsc.expectations.pending("default/web")).toBeUndefined();
  });
});
