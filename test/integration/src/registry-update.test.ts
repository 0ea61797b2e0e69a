import { ConfigMap, KINDS, type KubeObject, Namespace } from "@tskube/api";
import { isConflict, isNotFound } from "@tskube/machinery";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Registry } from "../../../apps/apiserver/src/registry.js";
import { Cacher } from "../../../apps/apiserver/src/storage/cacher.js";
import { EtcdKv } from "../../../apps/apiserver/src/storage/etcd-kv.js";
import { EtcdStore, type RawValue } from "../../../apps/apiserver/src/storage/etcd-store.js";
import { keyFor } from "../../../apps/apiserver/src/storage/keys.js";
import { silentLogger } from "../../../packages/log/src/index.js";
import { type EtcdHandle, startEtcd, waitFor } from "./harness.js";

const cmKind = KINDS.find((k) => k.kind === "ConfigMap")!;
const nsKind = KINDS.find((k) => k.kind === "Namespace")!;

/**
 * The registry's writes against a real etcd, counting etcd round trips (EtcdKv.requests): with the
 * watch cache holding the current object an update or delete is one transaction, and a cache that
 * is behind never turns into a wrong answer.
 */
describe("registry writes from the watch cache", () => {
  let etcd: EtcdHandle;
  let kv: EtcdKv;
  let cms: Registry;
  let cmCacher: Cacher;
  const cachers: Cacher[] = [];

  const roundTrips = () => Object.values(kv.requests).reduce((a, b) => a + b, 0);
  const key = (name: string) => keyFor(cmKind, "rt", name);
  const cm = (name: string, data: Record<string, string>, resourceVersion = "") =>
    ConfigMap.fromPartial({ metadata: { name, namespace: "rt", resourceVersion }, data }) as KubeObject;
  /** Waits until the watch cache has seen revision rv of the object. */
  const cached = (name: string, rv: string) =>
    waitFor(`cache at ${rv}`, async () => cmCacher.getRaw(key(name))?.modRevision === Number(rv), 10_000);
  const dataOf = (o: KubeObject) => (o as unknown as ConfigMap).data;

  beforeAll(async () => {
    etcd = await startEtcd();
    kv = new EtcdKv([etcd.endpoint], { timeoutMs: 10_000, connectTimeoutMs: 2_000 });
    const store = new EtcdStore(kv);
    const registries = new Map<string, Registry>();
    for (const kind of [nsKind, cmKind]) {
      const cacher = new Cacher(kind, kv, store, { capacity: 100, log: silentLogger });
      cachers.push(cacher);
      registries.set(
        kind.kind,
        new Registry(kind, {
          store,
          cacher,
          namespaces: () => registries.get("Namespace")!,
          maxObjectBytes: 1 << 20,
        }),
      );
    }
    for (const c of cachers) void c.start();
    await Promise.all(cachers.map((c) => c.waitReady()));
    cmCacher = cachers[1]!;
    cms = registries.get("ConfigMap")!;
    await registries
      .get("Namespace")!
      .create(Namespace.fromPartial({ metadata: { name: "rt" } }), { namespace: "" });
  });
  afterAll(async () => {
    for (const c of cachers) await c.stop();
    kv.close();
    await etcd.stop();
  });

  it("updates in exactly one etcd round trip when the cache holds the current object", async () => {
    let obj = await cms.create(cm("warm", { n: "0" }), { namespace: "rt" });
    const updates = 20;
    let trips = 0;
    const ranges = kv.requests.range;
    for (let i = 1; i <= updates; i++) {
      await cached("warm", obj.metadata!.resourceVersion);
      const before = roundTrips();
      // Alternately with the resourceVersion the client holds and without one.
      const rv = i % 2 ? obj.metadata!.resourceVersion : "";
      obj = await cms.update(cm("warm", { n: String(i) }, rv), { namespace: "rt" });
      trips += roundTrips() - before;
    }
    expect(trips).toBe(updates);
    expect(kv.requests.range).toBe(ranges);
    expect(dataOf(await cms.get("rt", "warm"))).toEqual({ n: String(updates) });
  });

  it("retries a race from the value the failed transaction read: two round trips, no extra read", async () => {
    const created = await cms.create(cm("race", { n: "0" }), { namespace: "rt" });
    await cached("race", created.metadata!.resourceVersion);
    const stale: RawValue = cmCacher.getRaw(key("race"))!;
    const other = await cms.update(cm("race", { n: "other" }), { namespace: "rt" });
    // The cache is made to lag: it still hands out the first version.
    const spy = vi.spyOn(cmCacher, "getRaw").mockReturnValue(stale);
    try {
      const ranges = kv.requests.range;
      const before = roundTrips();
      const mine = await cms.update(cm("race", { n: "mine" }), { namespace: "rt" });
      expect(roundTrips() - before).toBe(2);
      expect(kv.requests.range).toBe(ranges);
      expect(Number(mine.metadata!.resourceVersion)).toBeGreaterThan(Number(other.metadata!.resourceVersion));
      // The retry started from what etcd held: the uid and creation time are the object's.
      expect(mine.metadata!.uid).toBe(created.metadata!.uid);
    } finally {
      spy.mockRestore();
    }
    expect(dataOf(await cms.get("rt", "race"))).toEqual({ n: "mine" });
  });

  it("judges a resourceVersion on etcd's value when the cache's copy differs, never a false Conflict", async () => {
    const created = await cms.create(cm("rv", { n: "0" }), { namespace: "rt" });
    await cached("rv", created.metadata!.resourceVersion);
    const stale = cmCacher.getRaw(key("rv"))!;
    const latest = await cms.update(cm("rv", { n: "1" }), { namespace: "rt" });
    const spy = vi.spyOn(cmCacher, "getRaw").mockReturnValue(stale);
    try {
      // The client holds the newest version, the cache an older one: the update goes through.
      const ok = await cms.update(cm("rv", { n: "2" }, latest.metadata!.resourceVersion), {
        namespace: "rt",
      });
      expect(dataOf(ok)).toEqual({ n: "2" });
      // The client holds the version the (stale) cache has, etcd a newer one: Conflict, in one round trip.
      const before = roundTrips();
      const err = await cms
        .update(cm("rv", { n: "3" }, String(stale.modRevision)), { namespace: "rt" })
        .catch((e: unknown) => e);
      expect(isConflict(err)).toBe(true);
      expect(roundTrips() - before).toBe(1);
    } finally {
      spy.mockRestore();
    }
    // A resourceVersion that matches nothing is a Conflict with a current cache too.
    await cached("rv", String((await cms.get("rt", "rv")).metadata!.resourceVersion));
    const err = await cms.update(cm("rv", { n: "4" }, "1"), { namespace: "rt" }).catch((e: unknown) => e);
    expect(isConflict(err)).toBe(true);
    expect(dataOf(await cms.get("rt", "rv"))).toEqual({ n: "2" });
  });

  it("answers NotFound for an object the cache still holds but etcd no longer has", async () => {
    const created = await cms.create(cm("gone", { n: "0" }), { namespace: "rt" });
    await cached("gone", created.metadata!.resourceVersion);
    const stale = cmCacher.getRaw(key("gone"))!;
    await cms.delete("rt", "gone", {});
    const spy = vi.spyOn(cmCacher, "getRaw").mockReturnValue(stale);
    try {
      const update = await cms.update(cm("gone", { n: "1" }), { namespace: "rt" }).catch((e: unknown) => e);
      expect(isNotFound(update)).toBe(true);
      const del = await cms.delete("rt", "gone", {}).catch((e: unknown) => e);
      expect(isNotFound(del)).toBe(true);
    } finally {
      spy.mockRestore();
    }
  });

  it("deletes in one round trip from a warm cache; a stale precondition is judged on etcd's value", async () => {
    const created = await cms.create(cm("del", { n: "0" }), { namespace: "rt" });
    await cached("del", created.metadata!.resourceVersion);
    const before = roundTrips();
    const { deleted } = await cms.delete("rt", "del", {});
    expect(deleted).toBe(true);
    expect(roundTrips() - before).toBe(1);

    const again = await cms.create(cm("del2", { n: "0" }), { namespace: "rt" });
    await cached("del2", again.metadata!.resourceVersion);
    const stale = cmCacher.getRaw(key("del2"))!;
    const latest = await cms.update(cm("del2", { n: "1" }), { namespace: "rt" });
    const spy = vi.spyOn(cmCacher, "getRaw").mockReturnValue(stale);
    try {
      const r = await cms.delete("rt", "del2", {
        preconditions: { resourceVersion: latest.metadata!.resourceVersion },
      });
      expect(r.deleted).toBe(true);
    } finally {
      spy.mockRestore();
    }
    expect(isNotFound(await cms.get("rt", "del2").catch((e: unknown) => e))).toBe(true);
  });
});
