import type { KindInfo } from "@tskube/api";
import { TooOldError, type WatchFilter, type WatchSink } from "./cacher.js";
import { isEtcdError } from "./etcd-errors.js";
import type { EtcdKv } from "./etcd-kv.js";
import { CompactedError, type EtcdStore, prefixEnd } from "./etcd-store.js";
import { EtcdWatch, WatchCompactedError } from "./etcd-watch.js";
import { decodeValue, packStored, prefixFor } from "./keys.js";

/**
 * Serves a watch whose revision is older than the watch cache's ring straight from etcd history.
 * This is what lets a client resume after an apiserver restart (the new cache starts at the current
 * revision) without missing an event; once etcd has compacted that history it answers "too old".
 */
export async function watchFromEtcd(
  kv: EtcdKv,
  store: EtcdStore,
  kind: KindInfo,
  fromRv: number,
  filter: WatchFilter,
  sink: WatchSink,
): Promise<() => void> {
  const prefix = prefixFor(kind, filter.namespace);
  // Ask for the history first: a compacted revision is "too old" before any stream is opened.
  try {
    await store.range(prefix, { limit: 1, revision: fromRv + 1 });
  } catch (err) {
    if (err instanceof CompactedError) throw new TooOldError(fromRv, fromRv + 1);
    // A revision in the future is not an error for a watch: it waits for it.
    if (!isEtcdError(err, "futureRevision")) throw err;
  }
  const tooOld = (err: Error) =>
    err instanceof WatchCompactedError ? new TooOldError(fromRv, fromRv + 1) : err;
  let created = false;
  let watcher: EtcdWatch | undefined;
  await new Promise<void>((resolve, reject) => {
    watcher = new EtcdWatch(
      kv,
      { key: Buffer.from(prefix), rangeEnd: prefixEnd(prefix), startRevision: fromRv + 1, prevKv: true },
      {
        onCreated: () => {
          created = true;
          resolve();
        },
        onEvents: (events) => {
          for (const { type, kv: cur, prevKv: prev } of events) {
            const rv = cur.modRevision;
            const before = prev
              ? filter.matches(
                  decodeValue(kind, { key: prev.key.toString(), value: prev.value, modRevision: rv }),
                )
              : false;
            if (type === "delete") {
              if (prev && before) sink.send("DELETED", packStored(kind, prev.value, rv), rv);
              continue;
            }
            const obj = decodeValue(kind, { key: cur.key.toString(), value: cur.value, modRevision: rv });
            const now = filter.matches(obj);
            if (now) sink.send(before ? "MODIFIED" : "ADDED", packStored(kind, cur.value, rv), rv);
            else if (before) sink.send("DELETED", packStored(kind, cur.value, rv), rv);
          }
        },
        onError: (err) => {
          if (created) sink.close(tooOld(err));
          else reject(tooOld(err));
        },
      },
    );
  });
  return () => watcher?.cancel();
}
