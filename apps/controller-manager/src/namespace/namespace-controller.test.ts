import { ConfigMap, type KubeObject, Namespace, Pod } from "@tskube/api";
import type { FakeResourceClient } from "@tskube/controller/testing";
import { describe, expect, it } from "vitest";
import { fakeContext, stored } from "../testing.js";
import { NamespaceController } from "./namespace-controller.js";

/**
 * deleteCollection as the apiserver does it (bound pods only get a deletionTimestamp, objects with
 * finalizers stay), and lists narrowed to the namespace asked for.
 */
function realDeleteCollection(c: FakeResourceClient<KubeObject>) {
  const list = c.list.bind(c);
  c.listAll = async (opts = {}) => {
    const r = await list(opts);
    return {
      ...r,
      items: r.items.filter((o) => !opts.namespace || o.metadata!.namespace === opts.namespace),
    };
  };
  c.deleteCollection = async (opts: { namespace?: string } = {}) => {
    const out: KubeObject[] = [];
    for (const o of (await c.list()).items) {
      if (o.metadata!.namespace !== opts.namespace) continue;
      const pod = o as Pod;
      if (o.$type === "tskube.v1.Pod" && pod.spec?.nodeName) {
        if (!o.metadata!.deletionTimestamp)
          out.push(
            await c.update({
              ...o,
              metadata: {
                ...o.metadata!,
                deletionTimestamp: "2026-01-01T00:00:30Z",
                deletionGracePeriodSeconds: 30,
              },
            }),
          );
        continue;
      }
      if (o.metadata!.finalizers.length) continue;
      out.push((await c.delete(o.metadata!.name, { namespace: o.metadata!.namespace })).object);
    }
    return out;
  };
}

async function setup() {
  const f = fakeContext();
  const nc = new NamespaceController(f.ctx);
  for (const k of [
    "Pod",
    "ConfigMap",
    "Service",
    "Endpoints",
    "Event",
    "Secret",
    "ReplicaSet",
    "Deployment",
    "Lease",
  ])
    realDeleteCollection(f.client.resource(k));
  const nsClient = f.client.resource<Namespace>("Namespace");
  const ns = await nsClient.create(
    Namespace.fromPartial({
      metadata: { name: "doomed", deletionTimestamp: "2026-01-01T00:00:00Z" },
      spec: { finalizers: ["kubernetes"] },
      status: { phase: "Terminating" },
    }),
  );
  nc.namespaces.store.upsert(ns);
  const refresh = async () => {
    for (const n of await stored<Namespace>(f.client, "Namespace")) nc.namespaces.store.upsert(n);
  };
  return { ...f, nc, nsClient, refresh };
}

describe("namespace controller", () => {
  it("deletes every kind in a terminating namespace, waits for what remains, then removes its finalizer", async () => {
    const s = await setup();
    await s.client
      .resource<ConfigMap>("ConfigMap")
      .create(ConfigMap.fromPartial({ metadata: { name: "cm", namespace: "doomed" } }));
    await s.client
      .resource<ConfigMap>("ConfigMap")
      .create(ConfigMap.fromPartial({ metadata: { name: "keep", namespace: "other" } }));
    const pods = s.client.resource<Pod>("Pod");
    await pods.create(
      Pod.fromPartial({
        metadata: { name: "p", namespace: "doomed" },
        spec: { nodeName: "n1", terminationGracePeriodSeconds: 30, containers: [{ name: "c", image: "x" }] },
        status: { phase: "Running" },
      }),
    );

    // The pod stops gracefully: the namespace waits for it (half its grace period, then again).
    expect(await s.nc.sync("doomed")).toEqual({ requeueAfterMs: 16_000 });
    expect((await stored<ConfigMap>(s.client, "ConfigMap")).map((c) => c.metadata!.name)).toEqual(["keep"]);
    let ns = await s.nsClient.get("doomed");
    expect(ns.spec!.finalizers).toEqual(["kubernetes"]);
    expect(ns.status!.conditions.find((c) => c.type === "NamespaceContentRemaining")).toMatchObject({
      status: "True",
      reason: "SomeResourcesRemain",
      message: "Some resources are remaining: pods has 1 resource instances",
    });
    expect(ns.status!.conditions.find((c) => c.type === "NamespaceDeletionContentFailure")).toMatchObject({
      status: "False",
      reason: "ContentDeleted",
    });

    // The kubelet finishes the pod.
    await pods.delete("p", { namespace: "doomed" });
    await s.refresh();
    expect(await s.nc.sync("doomed")).toBeUndefined();
    ns = await s.nsClient.get("doomed");
    expect(ns.spec!.finalizers).toEqual([]);
  });

  it("reports finalizers that hold content back", async () => {
    const s = await setup();
    await s.client.resource<ConfigMap>("ConfigMap").create(
      ConfigMap.fromPartial({
        metadata: { name: "held", namespace: "doomed", finalizers: ["example.com/hold"] },
      }),
    );
    expect(await s.nc.sync("doomed")).toEqual({ requeueAfterMs: 8_000 });
    const ns = await s.nsClient.get("doomed");
    expect(ns.status!.conditions.find((c) => c.type === "NamespaceFinalizersRemaining")).toMatchObject({
      status: "True",
      reason: "SomeFinalizersRemain",
      message:
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances",
    });
    expect(ns.spec!.finalizers).toEqual(["kubernetes"]);
  });

  it("reports a kind it could not delete and retries", async () => {
    const s = await setup();
    s.client.resource("Secret").deleteCollection = async () => {
      throw new Error("etcdserver: request timed out");
    };
    await expect(s.nc.sync("doomed")).rejects.toThrow(
      "Failed to delete all resource types, 1 remaining: secrets: etcdserver: request timed out",
    );
    const ns = await s.nsClient.get("doomed");
    expect(ns.status!.conditions.find((c) => c.type === "NamespaceDeletionContentFailure")).toMatchObject({
      status: "True",
      reason: "ContentDeletionFailed",
    });
    expect(ns.spec!.finalizers).toEqual(["kubernetes"]);
  });

  it("leaves namespaces that are not being deleted alone", async () => {
    const s = await setup();
    const live = await s.nsClient.create(
      Namespace.fromPartial({ metadata: { name: "live" }, spec: { finalizers: ["kubernetes"] } }),
    );
    s.nc.namespaces.store.upsert(live);
    await s.client
      .resource<ConfigMap>("ConfigMap")
      .create(ConfigMap.fromPartial({ metadata: { name: "cm", namespace: "live" } }));
    expect(await s.nc.sync("live")).toBeUndefined();
    expect(await stored<ConfigMap>(s.client, "ConfigMap")).toHaveLength(1);
  });
});
