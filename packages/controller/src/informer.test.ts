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
    ac.abort();
    await running;
  });
});
