import { ConfigMap } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { FakeClock, flush } from "./clock.js";
import { FakeResourceClient } from "./fake-client.test-helper.js";
import { Informer } from "./informer.js";

const cm = (name: string, v = "1") =>
  ConfigMap.fromPartial({ metadata: { name, namespace: "default", labels: { v } }, data: { v } });

function recorder() {
  const events: string[] = [];
  return {
    events,
    handlers: {
      onAdd: (o: ConfigMap) => events.push(`add ${o.metadata!.name}`),
      onUpdate: (_: ConfigMap, n: ConfigMap) => events.push(`update ${n.metadata!.name}=${n.data.v}`),
      onDelete: (o: ConfigMap) => events.push(`delete ${o.metadata!.name}`),
    },
  };
}

describe("Informer", () => {
  it("lists, then watches: handlers see every change and the store follows", async () => {
    const fake = new FakeResourceClient<ConfigMap>("ConfigMap");
    await fake.create(cm("a"));
    const inf = new Informer(fake, { clock: new FakeClock() });
    const r = recorder();
    inf.addEventHandler(r.handlers);
    const ac = new AbortController();
    const running = inf.run(ac.signal);
    await inf.waitForSync();
    expect(inf.hasSynced()).toBe(true);
    await fake.create(cm("b"));
    const a = await fake.get("a");
    await fake.update({ ...a, data: { v: "2" } });
    await fake.delete("b");
    await flush();
    expect(r.events).toEqual(["add a", "add b", "update a=2", "delete b"]);
    expect(inf.lister.list("default").map((o) => o.metadata!.name)).toEqual(["a"]);
    expect(inf.lister.list("default", "v=1").length).toBe(1);
    ac.abort();
    await running;
  });

  it("resumes a broken watch from the last revision without re-listing or missing events", async () => {
    const clock = new FakeClock();
    const fake = new FakeResourceClient<ConfigMap>("ConfigMap");
    const inf = new Informer(fake, { clock, initialBackoffMs: 100 });
    const r = recorder();
    inf.addEventHandler(r.handlers);
    const ac = new AbortController();
    const running = inf.run(ac.signal);
    await inf.waitForSync();
    await fake.create(cm("a"));
    await flush();
    fake.breakOpenWatches();
    await flush();
    // Written while the informer is between streams: the resumed watch replays it.
    await fake.create(cm("b"));
    await clock.step(100);
    expect(r.events).toEqual(["add a", "add b"]);
    expect(fake.watchCalls).toBe(2);
    ac.abort();
    await running;
  });

  it("re-lists after 'too old' and reports the deletions it missed", async () => {
    const clock = new FakeClock();
    const fake = new FakeResourceClient<ConfigMap>("ConfigMap");
    await fake.create(cm("a"));
    await fake.create(cm("b"));
    const inf = new Informer(fake, { clock, initialBackoffMs: 100 });
    const r = recorder();
    inf.addEventHandler(r.handlers);
    const ac = new AbortController();
    const running = inf.run(ac.signal);
    await inf.waitForSync();
    await flush(); // the watch is open
    fake.breakOpenWatches();
    fake.silently(() => {
      void fake.delete("b");
      void fake.create(cm("c"));
      void fake.get("a").then((a) => fake.update({ ...a, data: { v: "9" } }));
    });
    await flush();
    fake.compact();
    await clock.step(100);
    await flush();
    // A re-list reports the final state: updates and adds in list order, then the deletions.
    expect(r.events).toEqual(["add a", "add b", "update a=9", "add c", "delete b"]);
    expect(fake.watchCalls).toBe(3);
    expect(inf.store.listKeys().sort()).toEqual(["default/a", "default/c"]);
    // The first list may come from the apiserver's cache ("0"); the re-list after "too old" must
    // not go back in time, so it reads the latest state ("").
    expect(fake.listOptions.map((o) => o.resourceVersion)).toEqual(["0", ""]);
    ac.abort();
    await running;
  });
});

describe("Informer options and handlers", () => {
  it("lists in pages and watches with the namespace and selectors it was given, with bookmarks", async () => {
    const fake = new FakeResourceClient<ConfigMap>("ConfigMap");
    const inf = new Informer(fake, {
      clock: new FakeClock(),
      namespace: "kube-system",
      labelSelector: "app=web",
      fieldSelector: "spec.nodeName=n1",
      pageSize: 50,
    });
    const ac = new AbortController();
    const running = inf.run(ac.signal);
    await inf.waitForSync();
    await flush();
    expect(fake.listOptions).toEqual([
      {
        namespace: "kube-system",
        labelSelector: "app=web",
        fieldSelector: "spec.nodeName=n1",
        resourceVersion: "0",
        limit: 50,
      },
    ]);
    expect(fake.watchOptions).toEqual([
      {
        namespace: "kube-system",
        labelSelector: "app=web",
        fieldSelector: "spec.nodeName=n1",
        resourceVersion: "0",
        allowWatchBookmarks: true,
      },
    ]);
    ac.abort();
    await running;
  });

  it("moves lastSyncResourceVersion on bookmarks, so a resume after compaction needs no re-list", async () => {
    const clock = new FakeClock();
    const fake = new FakeResourceClient<ConfigMap>("ConfigMap");
    await fake.create(cm("a"));
    const inf = new Informer(fake, { clock, initialBackoffMs: 100 });
    const ac = new AbortController();
    const running = inf.run(ac.signal);
    await inf.waitForSync();
    await flush();
    expect(inf.lastSyncResourceVersion()).toBe("1");
    // Other kinds' writes move the revision on; the bookmark tells this informer.
    for (let i = 0; i < 5; i++) fake.bumpRevision();
    fake.bookmark();
    await flush();
    expect(inf.lastSyncResourceVersion()).toBe("6");
    fake.compact();
    fake.breakOpenWatches();
    await clock.step(100);
    expect(fake.listOptions.length).toBe(1);
    expect(fake.watchOptions.map((o) => o.resourceVersion)).toEqual(["1", "6"]);
    ac.abort();
    await running;
  });

  it("retries a failed list with backoff and only then reports synced", async () => {
    const clock = new FakeClock();
    const fake = new FakeResourceClient<ConfigMap>("ConfigMap");
    await fake.create(cm("a"));
    fake.failLists = 2;
    const inf = new Informer(fake, { clock, initialBackoffMs: 100, maxBackoffMs: 150 });
    const ac = new AbortController();
    const running = inf.run(ac.signal);
    await flush();
    expect(inf.hasSynced()).toBe(false);
    await clock.step(99);
    expect(fake.listOptions.length).toBe(1);
    await clock.step(1);
    expect(fake.listOptions.length).toBe(2);
    expect(inf.hasSynced()).toBe(false);
    await clock.step(150); // doubled, capped at maxBackoffMs
    expect(fake.listOptions.length).toBe(3);
    expect(inf.hasSynced()).toBe(true);
    expect(inf.store.listKeys()).toEqual(["default/a"]);
    ac.abort();
    await running;
  });

  it("keeps calling other handlers when one throws, and replays the cache to late handlers", async () => {
    const fake = new FakeResourceClient<ConfigMap>("ConfigMap");
    await fake.create(cm("a"));
    const inf = new Informer(fake, { clock: new FakeClock() });
    const r = recorder();
    inf.addEventHandler({
      onAdd: () => {
        throw new Error("handler bug");
      },
    });
    inf.addEventHandler(r.handlers);
    const ac = new AbortController();
    inf.start(ac.signal);
    inf.start(ac.signal); // a second start joins the first
    await inf.waitForSync();
    await flush();
    expect(r.events).toEqual(["add a"]);
    const late = recorder();
    inf.addEventHandler(late.handlers);
    expect(late.events).toEqual(["add a"]);
    expect(fake.watchCalls).toBe(1);
    ac.abort();
    await inf.run(ac.signal);
  });

  it("waitForSync gives up when its signal aborts", async () => {
    const fake = new FakeResourceClient<ConfigMap>("ConfigMap");
    const inf = new Informer(fake, { clock: new FakeClock() });
    const ac = new AbortController();
    const waiting = inf.waitForSync(ac.signal);
    ac.abort();
    await waiting;
    expect(inf.hasSynced()).toBe(false);
  });

  it("waitForSync returns at once for a signal that is already aborted", async () => {
    const fake = new FakeResourceClient<ConfigMap>("ConfigMap");
    const inf = new Informer(fake, { clock: new FakeClock() });
    const ac = new AbortController();
    ac.abort();
    let returned = false;
    const waiting = inf.waitForSync(ac.signal).then(() => {
      returned = true;
    });
    await flush();
    expect(returned).toBe(true);
    await waiting;
  });

  it("stops while the initial list hangs: the abort cancels the list call", async () => {
    const fake = new FakeResourceClient<ConfigMap>("ConfigMap");
    const seen: (AbortSignal | undefined)[] = [];
    fake.listAll = (opts = {}) => {
      seen.push(opts.signal);
      // An apiserver that never answers: only the caller's signal ends the call.
      return new Promise((_, reject) =>
        opts.signal?.addEventListener("abort", () => reject(opts.signal?.reason), { once: true }),
      );
    };
    const inf = new Informer(fake, { clock: new FakeClock() });
    const ac = new AbortController();
    let stopped = false;
    const running = inf.run(ac.signal).then(() => {
      stopped = true;
    });
    await flush();
    expect(seen).toEqual([ac.signal]);
    ac.abort();
    await flush();
    expect(stopped).toBe(true);
    expect(inf.hasSynced()).toBe(false);
    await running;
  });

  it("refuses indexers whose name is taken, naming the indexer, and adds none of that batch", () => {
    const inf = new Informer(new FakeResourceClient<ConfigMap>("ConfigMap"), {
      indexers: { value: (c) => [c.data.v ?? ""] },
    });
    inf.store.upsert(cm("a", "1"));
    expect(() => inf.addIndexers({ name: (c) => [c.metadata!.name], value: () => ["x"] })).toThrow(
      'indexer conflict: configmaps already has an indexer named "value"',
    );
    expect(inf.store.hasIndexer("name")).toBe(false);
    expect(inf.store.byIndex("value", "1").length).toBe(1);
    inf.addIndexers({ name: (c) => [c.metadata!.name] });
    expect(inf.store.byIndex("name", "a").length).toBe(1);
  });
});
