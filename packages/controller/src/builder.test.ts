import { ConfigMap, type KubeObject, Node, Pod, ReplicaSet } from "@tskube/api";
import type { Client } from "@tskube/client";
import { describe, expect, it } from "vitest";
import { newControllerManagedBy, onlyDeletes } from "./builder.js";
import { FakeClock, flush } from "./clock.js";
import { FakeClient } from "./fake-client.test-helper.js";
import { SharedInformerFactory } from "./shared-informer-factory.js";

function setup() {
  const client = new FakeClient();
  const clock = new FakeClock();
  const informers = new SharedInformerFactory(client as unknown as Pick<Client, "resource">, { clock });
  const keys: string[] = [];
  const reconcile = async (key: string) => {
    keys.push(key);
  };
  return { client, clock, informers, keys, reconcile };
}

const controllerRef = (apiVersion: string, kind: string, name: string) => ({
  $type: "tskube.v1.OwnerReference" as const,
  apiVersion,
  kind,
  name,
  uid: `uid-${name}`,
  controller: true,
});

describe("ControllerBuilder", () => {
  it("starts its informers, waits for them to sync, then reconciles for / owns / watches keys", async () => {
    const { client, clock, informers, keys, reconcile } = setup();
    await client
      .resource<ReplicaSet>("ReplicaSet")
      .create(ReplicaSet.fromPartial({ metadata: { name: "web", namespace: "prod" } }));
    const c = newControllerManagedBy({ informers, clock })
      .named("test")
      .for<ReplicaSet>("replicasets")
      .owns<Pod>("pods")
      .watches<ConfigMap>("configmaps", (cm) => [`prod/${cm.metadata!.labels.app}`])
      .complete(reconcile);
    const ac = new AbortController();
    const done = c.run(ac.signal);
    await flush();
    // The initial list's add, reconciled once the caches have synced.
    expect(keys).toEqual(["prod/web"]);
    await client.resource<Pod>("Pod").create(
      Pod.fromPartial({
        metadata: {
          name: "web-1",
          namespace: "prod",
          ownerReferences: [controllerRef("apps/v1", "ReplicaSet", "web")],
        },
      }),
    );
    // Owned by another kind, by a ReplicaSet of another group, or not as controller: not enqueued.
    for (const [name, ref] of [
      ["job-1", controllerRef("batch/v1", "Job", "batch")],
      ["odd-1", controllerRef("example.com/v1", "ReplicaSet", "odd")],
      ["plain-1", { ...controllerRef("apps/v1", "ReplicaSet", "plain"), controller: false }],
    ] as const)
      await client
        .resource<Pod>("Pod")
        .create(Pod.fromPartial({ metadata: { name, namespace: "prod", ownerReferences: [ref] } }));
    await client
      .resource<ConfigMap>("ConfigMap")
      .create(ConfigMap.fromPartial({ metadata: { name: "cfg", namespace: "prod", labels: { app: "db" } } }));
    await flush();
    expect(keys).toEqual(["prod/web", "prod/web", "prod/db"]);
    ac.abort();
    await done;
  });

  it("maps an update's old and new object, so a dependent that changed owner tells both", async () => {
    const { client, clock, informers, keys, reconcile } = setup();
    const pods = client.resource<Pod>("Pod");
    const pod = await pods.create(
      Pod.fromPartial({
        metadata: {
          name: "p",
          namespace: "prod",
          ownerReferences: [controllerRef("apps/v1", "ReplicaSet", "a")],
        },
      }),
    );
    const c = newControllerManagedBy({ informers, clock })
      .named("test")
      .for<ReplicaSet>("replicasets")
      .owns<Pod>("pods")
      .complete(reconcile);
    const ac = new AbortController();
    const done = c.run(ac.signal);
    await flush();
    expect(keys).toEqual(["prod/a"]);
    await pods.update({
      ...pod,
      metadata: { ...pod.metadata!, ownerReferences: [controllerRef("apps/v1", "ReplicaSet", "b")] },
    });
    await flush();
    expect(keys.slice(1).sort()).toEqual(["prod/a", "prod/b"]);
    ac.abort();
    await done;
  });

  it("lets only events that pass every predicate through, and keys cluster-scoped owners by name", async () => {
    const { client, clock, informers, keys, reconcile } = setup();
    const c = newControllerManagedBy({ informers, clock })
      .named("test")
      .for<Node>("nodes", { predicates: [onlyDeletes] })
      .owns<Pod>("pods")
      .complete(reconcile);
    const ac = new AbortController();
    const done = c.run(ac.signal);
    await flush();
    const node = await client.resource<Node>("Node").create(Node.fromPartial({ metadata: { name: "n1" } }));
    await client
      .resource<Node>("Node")
      .update({ ...node, metadata: { ...node.metadata!, labels: { a: "b" } } });
    await client.resource<Pod>("Pod").create(
      Pod.fromPartial({
        metadata: { name: "p", namespace: "x", ownerReferences: [controllerRef("v1", "Node", "n1")] },
      }),
    );
    await flush();
    expect(keys).toEqual(["n1"]);
    await client.resource<Node>("Node").delete("n1");
    await flush();
    expect(keys).toEqual(["n1", "n1"]);
    ac.abort();
    await done;
  });

  it("hands a full event handler the queue, for watches that do more than map", async () => {
    const { client, clock, informers, keys, reconcile } = setup();
    const seen: string[] = [];
    const c = newControllerManagedBy({ informers, clock })
      .named("no-primary")
      .watches<KubeObject>("configmaps", {
        onAdd: (o, q) => {
          seen.push(`add ${o.metadata!.name}`);
          q.addAfter(`later/${o.metadata!.name}`, 1000);
        },
      })
      .complete(reconcile);
    const ac = new AbortController();
    const done = c.run(ac.signal);
    await flush();
    await client
      .resource<ConfigMap>("ConfigMap")
      .create(ConfigMap.fromPartial({ metadata: { name: "cfg", namespace: "prod" } }));
    await flush();
    expect(seen).toEqual(["add cfg"]);
    expect(keys).toEqual([]);
    await clock.step(1000);
    expect(keys).toEqual(["later/cfg"]);
    ac.abort();
    await done;
  });

  it("starts no worker while a cache has not synced", async () => {
    const { client, clock, informers, keys, reconcile } = setup();
    client.resource<Pod>("Pod").failLists = 100;
    const c = newControllerManagedBy({ informers, clock })
      .named("test")
      .for<ReplicaSet>("replicasets")
      .owns<Pod>("pods")
      .complete(reconcile);
    const ac = new AbortController();
    const done = c.run(ac.signal);
    await flush();
    c.enqueue("prod/x");
    await flush();
    expect(keys).toEqual([]);
    ac.abort();
    await done;
    expect(keys).toEqual([]);
  });

  it("refuses a controller without a name, two primary kinds, or owns() without for()", () => {
    const { informers } = setup();
    const noop = async () => undefined;
    expect(() => newControllerManagedBy({ informers }).for("pods").complete(noop)).toThrow(/needs a name/);
    expect(() => newControllerManagedBy({ informers }).named("x").for("pods").for("nodes")).toThrow(
      /for\(\) may only be called once/,
    );
    expect(() => newControllerManagedBy({ informers }).named("x").owns("pods").complete(noop)).toThrow(
      /owns\(\) needs for\(\)/,
    );
    expect(() => newControllerManagedBy({}).named("x").for("pods").complete(noop)).toThrow(
      /watching pods by kind needs shared informers/,
    );
  });
});
