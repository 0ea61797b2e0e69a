import { type KindInfo, pack } from "@tskube/api";
import type { Etcd3 } from "etcd3";
import { TooOldError, type WatchFilter, type WatchSink } from "./cacher.js";
import { CompactedError, type EtcdStore } from "./etcd-store.js";
import { decodeValue, prefixFor } from "./keys.js";

/** etcd cancels a watch whose start revision was compacted (its reason is often empty). */
const isCompaction = (err: Error) => /compact|Watcher canceled/i.test(err.message);

/**
 * Serves a watch whose revision is older than the watch cache's ring straight from etcd history.
 * This is what lets a client resume after an apiserver restart (the new cache starts at the current
 * revision) without missing an event; once etcd has compacted that history it answers "too old".
 */
export async function watchFromEtcd(
  etcd: Etcd3,
  store: EtcdStore,
  kind: KindInfo,
  fromRv: number,
  filter: WatchFilter,
  sink: WatchSink,
): Promise<() => void> {
  // Ask for the history first: a compacted revision is "too old" before any stream is opened.
  try {
    await store.range(prefixFor(kind, filter.namespace), { limit: 1, revision: fromRv + 1 });
  } catch (err) {
    if (err instanceof CompactedError) throw new TooOldError(fromRv, fromRv + 1);
    // A revision in the future is not an error for a watch: it waits for it.
    if (!/future revision/.test(String((err as Error).message))) throw err;
  }
  const watcher = etcd
    .watch()
    .prefix(prefixFor(kind, filter.namespace))
    .startRevision(String(fromRv + 1))
    .withPreviousKV()
    .watcher();
  watcher.on("put", (kv, prev) => {
    const rv = Number(kv.mod_revision);
    const obj = decodeValue(kind, { key: kv.key.toString(), value: kv.value, modRevision: rv });
    const before = prev
      ? filter.matches(decodeValue(kind, { key: prev.key.toString(), value: prev.value, modRevision: rv }))
      : false;
    const now = filter.matches(obj);
    if (now) sink.send(before ? "MODIFIED" : "ADDED", pack(obj), rv);
    else if (before) sink.send("DELETED", pack(obj), rv);
  });
  watcher.on("delete", (kv, prev) => {
    if (!prev) return;
    const rv = Number(kv.mod_revision);
    const last = decodeValue(kind, { key: prev.key.toString(), value: prev.value, modRevision: rv });
    if (filter.matches(last)) sink.send("DELETED", pack(last), rv);
  });
  const compacted = await new Promise<boolean>((resolve, reject) => {
    watcher.once("connected", () => resolve(false));
    watcher.once("error", (err: Error) => {
      if (isCompaction(err)) resolve(true);
      else reject(err);
    });
  });
  if (compacted) {
    void watcher.cancel().catch(() => {});
    throw new TooOldError(fromRv, fromRv + 1);
  }
  watcher.on("error", (err: Error) =>
    sink.close(isCompaction(err) ? new TooOldError(fromRv, fromRv + 1) : err),
  );
  return () => void watcher.cancel().catch(() => {});
}
