import { ConfigMap, type KubeObject, Pod } from "@tskube/api";
import type { ResourceClient } from "@tskube/client";
import { describe, expect, it } from "vitest";
import { FakeClock, flush } from "./clock.js";
import { FakeResourceClient } from "./fake-client.test-helper.js";
import { SharedInformerFactory } from "./shared-informer-factory.js";
import type { IndexFunc } from "./store.js";

function fakeClient() {
  const fakes = {
    configmaps: new FakeResourceClient<ConfigMap>("ConfigMap"),
    pods: new FakeResourceClient<Pod>("Pod"),
  };
  return {
    fakes,
    client: {
      resource<T extends KubeObject>(kind: unknown): ResourceClient<T> {
        const name = typeof kind === "string" ? kind : (kind as { resource: string }).resource;
        return fakes[name as keyof typeof fakes] as unknown as ResourceClient<T>;
      },
    },
  };
}

describe("SharedInformerFactory", () => {
  it("hands out one informer per kind and scope, started together and synced together", async () => {
    const { fakes, client } = fakeClient();
    await fakes.pods.create(Pod.fromPartial({ metadata: { name: "p", namespace: "default" } }));
    await fakes.configmaps.create(ConfigMap.fromPartial({ metadata: { name: "c", namespace: "default" } }));
    const factory = new SharedInformerFactory(client, { clock: new FakeClock() });
    const pods = factory.informerFor<Pod>("pods");
    expect(factory.informerFor<Pod>("pods")).toBe(pods);
    const nodePods = factory.informerFor<Pod>("pods", { fieldSelector: "spec.nodeName=n1" });
    expect(nodePods).not.toBe(pods);
    expect(factory.informerFor<Pod>("pods", { fieldSelector: "spec.nodeName=n1" })).toBe(nodePods);

    const ac = new AbortController();
    factory.start(ac.signal);
    // Requested after start: started at once.
    const cms = factory.informerFor<ConfigMap>("configmaps");
    expect(await factory.waitForCacheSync(ac.signal)).toBe(true);
    expect(pods.store.listKeys()).toEqual(["default/p"]);
    expect(cms.store.listKeys()).toEqual(["default/c"]);
    await flush();
    // Two pod informers (different scopes) and one for configmaps: one watch each.
    expect(fakes.pods.watchCalls).toBe(2);
    expect(fakes.configmaps.watchCalls).toBe(1);
    ac.abort();
    await Promise.all([pods.run(ac.signal), nodePods.run(ac.signal), cms.run(ac.signal)]);
  });

  it("reports not synced when the signal aborts before the caches fill", async () => {
    const { fakes, client } = fakeClient();
    fakes.pods.failLists = 100;
    const factory = new SharedInformerFactory(client, { clock: new FakeClock() });
    factory.informerFor<Pod>("pods");
    const ac = new AbortController();
    factory.start(ac.signal);
    const synced = factory.waitForCacheSync(ac.signal);
    await flush();
    ac.abort();
    expect(await synced).toBe(false);
  });

  it("puts the well-known indexes on each informer once, so controllers sharing it read one index", async () => {
    const { fakes, client } = fakeClient();
    await fakes.pods.create(
      Pod.fromPartial({ metadata: { name: "p", namespace: "default" }, spec: { nodeName: "n1" } }),
    );
    const asked: string[] = [];
    const factory = new SharedInformerFactory(client, {
      clock: new FakeClock(),
      indexers: (kind): Record<string, IndexFunc<KubeObject>> => {
        asked.push(kind.resource);
        return kind.resource === "pods" ? { node: (o) => [(o as Pod).spec?.nodeName ?? ""] } : {};
      },
    });
    const pods = factory.informerFor<Pod>("pods");
    expect(factory.informerFor<Pod>("pods")).toBe(pods);
    factory.informerFor<ConfigMap>("configmaps");
    expect(asked).toEqual(["pods", "configmaps"]);
    const ac = new AbortController();
    factory.start(ac.signal);
    await factory.waitForCacheSync(ac.signal);
    expect(pods.store.byIndex("node", "n1").map((p) => p.metadata!.name)).toEqual(["p"]);
    // A second controller registering the same index is refused rather than replacing it.
    expect(() => pods.addIndexers({ node: () => [] })).toThrow(/already has an indexer named "node"/);
    ac.abort();
    await pods.run(ac.signal);
  });
});
