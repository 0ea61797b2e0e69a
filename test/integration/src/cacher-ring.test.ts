import { type Any, ConfigMap, KINDS } from "@tskube/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Cacher,
  type EventType,
  TooOldError,
  type WatchFilter,
} from "../../../apps/apiserver/src/storage/cacher.js";
import { EtcdKv } from "../../../apps/apiserver/src/storage/etcd-kv.js";
import { EtcdStore } from "../../../apps/apiserver/src/storage/etcd-store.js";
import { encodeValue, keyFor } from "../../../apps/apiserver/src/storage/keys.js";
import { silentLogger } from "../../../packages/log/src/index.js";
import { type EtcdHandle, startEtcd, waitFor } from "./harness.js";

const cmKind = KINDS.find((k) => k.kind === "ConfigMap")!;
const everything: WatchFilter = { namespace: "", matches: () => true, everything: true };

/** The watch cache's ring on a real etcd: replay from a revision once the ring has wrapped. */
describe("watch cache ring", () => {
  let etcd: EtcdHandle;
  let kv: EtcdKv;
  let store: EtcdStore;
  let cacher: Cacher;

  beforeAll(async () => {
    etcd = await startEtcd();
    kv = new EtcdKv([etcd.endpoint], { timeoutMs: 10_000, connectTimeoutMs: 2_000 });
    store = new EtcdStore(kv);
    cacher = new Cacher(cmKind, kv, store, { capacity: 4, log: silentLogger });
    void cacher.start();
    await cacher.waitReady();
  });
  afterAll(async () => {
    await cacher.stop();
    kv.close();
    await etcd.stop();
  });

  it("replays the events after a revision from a wrapped ring, and answers too old before it", async () => {
    const revs: number[] = [];
    for (let i = 0; i < 7; i++) {
      const obj = ConfigMap.fromPartial({
        metadata: { name: `c${i}`, namespace: "ring" },
        data: { i: String(i) },
      });
      revs.push((await store.create(keyFor(cmKind, "ring", `c${i}`), encodeValue(cmKind, obj as never)))!);
    }
    await waitFor("the cache to see every write", async () => cacher.currentRv >= revs[6]!, 10_000);
    // Capacity 4: the ring holds c3..c6; a watch from c2's revision has all it needs.
    const got: { type: EventType | "BOOKMARK"; rv: number }[] = [];
    const stop = cacher.watch(revs[2]!, everything, {
      send: (type: EventType | "BOOKMARK", _packed: Any, rv: number) => got.push({ type, rv }),
      close: () => {},
    });
    expect(got).toEqual(revs.slice(3).map((rv) => ({ type: "ADDED", rv })));
    // Live events follow the replay.
    const more = ConfigMap.fromPartial({ metadata: { name: "c7", namespace: "ring" } });
    const rev7 = (await store.create(keyFor(cmKind, "ring", "c7"), encodeValue(cmKind, more as never)))!;
    await waitFor("the live event", async () => got.length === 5, 10_000);
    expect(got[4]).toEqual({ type: "ADDED", rv: rev7 });
    stop();
    // c3 has been pushed out by c7: from c2's revision there is now a gap.
    expect(() => cacher.watch(revs[2]!, everything, { send: () => {}, close: () => {} })).toThrow(
      TooOldError,
    );
    const fromC3: number[] = [];
    cacher.watch(revs[3]!, everything, { send: (_t, _p, rv) => fromC3.push(rv), close: () => {} })();
    expect(fromC3).toEqual([revs[4], revs[5], revs[6], rev7]);
  });
});
