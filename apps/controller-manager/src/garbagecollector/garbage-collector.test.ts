import { Deployment, KINDS, type KubeObject, Pod, ReplicaSet } from "@tskube/api";
import { describe, expect, it, vi } from "vitest";
import { fakeContext, stored } from "../testing.js";
import { FOREGROUND_FINALIZER, GarbageCollector, ORPHAN_FINALIZER } from "./garbage-collector.js";

const KIND = (k: string) => KINDS.find((x) => x.kind === k)!;
const ref = (kind: string, name: string, uid: string, block = true) => ({
  $type: "tskube.v1.OwnerReference" as const,
  apiVersion: kind === "Pod" ? "v1" : "apps/v1",
  kind,
  name,
  uid,
  controller: true,
  blockOwnerDeletion: block,
});

const deployment = (uid: string, finalizers: string[] = []) =>
  Deployment.fromPartial({
    metadata: {
      name: "web",
      namespace: "default",
      uid,
      finalizers,
      deletionTimestamp: finalizers.length ? "2026-01-01T00:00:00Z" : "",
    },
  });
const replicaSet = (name: string, owners: ReturnType<typeof ref>[]) =>
  ReplicaSet.fromPartial({
    metadata: { name, namespace: "default", uid: `uid-${name}`, ownerReferences: owners },
  });
const pod = (name: string, owners: ReturnType<typeof ref>[]) =>
  Pod.fromPartial({ metadata: { name, namespace: "default", uid: `uid-${name}`, ownerReferences: owners } });

async function setup(objects: { kind: string; obj: KubeObject; cached?: boolean }[]) {
  const f = fakeContext();
  const gc = new GarbageCollector(f.ctx, { kinds: [KIND("Deployment"), KIND("ReplicaSet"), KIND("Pod")] });
  for (const { kind, obj, cached } of objects) {
    const created = await f.client.resource(kind).create(obj);
    if (cached !== false) gc.informers.get(kind)!.store.upsert(created);
  }
  const key = (kind: string, obj: KubeObject) =>
    `${KIND(kind).resource}|default|${obj.metadata!.name}|${obj.metadata!.uid}`;
  return { ...f, gc, key };
}

describe("garbage collector", () => {
  it("deletes an object whose owner is gone, checking the apiserver before trusting the cache", async () => {
    const rs = replicaSet("web-1", [ref("Deployment", "web", "gone-uid")]);
    // The owner exists in the apiserver but not yet in the cache: its dependent stays.
    const young = replicaSet("web-2", [ref("Deployment", "web", "d-live")]);
    const { client, gc, key } = await setup([
      { kind: "Deployment", obj: deployment("d-live"), cached: false },
      { kind: "ReplicaSet", obj: rs },
      { kind: "ReplicaSet", obj: young },
    ]);
    const del = vi.spyOn(client.resource("ReplicaSet"), "delete");
    await gc.attempt(key("ReplicaSet", rs));
    await gc.attempt(key("ReplicaSet", young));
    expect((await stored<ReplicaSet>(client, "ReplicaSet")).map((x) => x.metadata!.name)).toEqual(["web-2"]);
    expect(del).toHaveBeenCalledWith("web-1", {
      namespace: "default",
      propagationPolicy: "Background",
      preconditions: { uid: "uid-web-1" },
    });
  });

  it("drops only the references to gone owners from an object that still has a live one", async () => {
    const p = pod("shared", [
      ref("ReplicaSet", "old", "gone"),
      { ...ref("ReplicaSet", "live", "uid-live"), controller: false },
    ]);
    const { client, gc, key } = await setup([
      { kind: "ReplicaSet", obj: replicaSet("live", []) },
      { kind: "Pod", obj: p },
    ]);
    await gc.attempt(key("Pod", p));
    const [after] = await stored<Pod>(client, "Pod");
    expect(after!.metadata!.ownerReferences.map((r) => r.uid)).toEqual(["uid-live"]);
  });

  it("orphans: removes the owner's reference from its dependents, then the orphan finalizer", async () => {
    const d = deployment("d1", [ORPHAN_FINALIZER]);
    const rs = replicaSet("web-1", [ref("Deployment", "web", "d1")]);
    const { client, gc, key } = await setup([
      { kind: "Deployment", obj: d },
      { kind: "ReplicaSet", obj: rs },
    ]);
    await gc.attempt(key("Deployment", d));
    expect((await stored<ReplicaSet>(client, "ReplicaSet"))[0]!.metadata!.ownerReferences).toEqual([]);
    expect((await stored<Deployment>(client, "Deployment"))[0]!.metadata!.finalizers).toEqual([]);
  });

  it("foreground: deletes blocking dependents first (in the foreground when they own more), then lets the owner go", async () => {
    const d = deployment("d1", [FOREGROUND_FINALIZER]);
    const rs = replicaSet("web-1", [ref("Deployment", "web", "d1")]);
    const p = pod("web-1-a", [ref("ReplicaSet", "web-1", "uid-web-1")]);
    const { client, gc, key } = await setup([
      { kind: "Deployment", obj: d },
      { kind: "ReplicaSet", obj: rs },
      { kind: "Pod", obj: p },
    ]);
    const del = vi.spyOn(client.resource("ReplicaSet"), "delete");
    await gc.attempt(key("Deployment", d));
    expect(del).toHaveBeenCalledWith("web-1", expect.objectContaining({ propagationPolicy: "Foreground" }));
    // Still blocked while the ReplicaSet is in the cache.
    expect((await stored<Deployment>(client, "Deployment"))[0]!.metadata!.finalizers).toEqual([
      FOREGROUND_FINALIZER,
    ]);
    gc.informers.get("ReplicaSet")!.store.delete("default/web-1");
    await gc.attempt(key("Deployment", d));
    expect((await stored<Deployment>(client, "Deployment"))[0]!.metadata!.finalizers).toEqual([]);
  });

  it("leaves alone objects whose owners are alive or of a kind it does not watch", async () => {
    const p = pod("p", [ref("ReplicaSet", "live", "uid-live")]);
    const q = Pod.fromPartial({
      metadata: {
        name: "q",
        namespace: "default",
        uid: "uid-q",
        ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: "j", uid: "j" }],
      },
    });
    const { client, gc, key } = await setup([
      { kind: "ReplicaSet", obj: replicaSet("live", []) },
      { kind: "Pod", obj: p },
      { kind: "Pod", obj: q },
    ]);
    await gc.attempt(key("Pod", p));
    await gc.attempt(key("Pod", q));
    expect((await stored<Pod>(client, "Pod")).length).toBe(2);
  });
});
