import type { Any } from "@tskube/api";
import { type KindInfo, type KubeObject, pack } from "@tskube/api";
import type { Logger } from "@tskube/log";
import type { EtcdKv } from "./etcd-kv.js";
import { type EtcdStore, prefixEnd, type RawValue } from "./etcd-store.js";
import { EtcdWatch, type WatchEvent } from "./etcd-watch.js";
import { EventRing } from "./event-ring.js";
import { decodeValue, encodeValue, packStored, prefixFor } from "./keys.js";

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

/** One change as the cache saw it, with the object packed once for every watcher. */
export interface CacheEvent {
  type: EventType;
  key: string;
  rv: number;
  object: KubeObject;
  /** The state before the change (undefined for ADDED). Watch filters need it. */
  prev: KubeObject | undefined;
  /** Whether there was a state before the change, without decoding it. */
  hadPrev: boolean;
  /** The object packed for the wire, once, on first delivery (no watcher, no encoding). */
  packed(): Any;
}

/** The object packed on first use; the bytes it is packed from are let go after that. */
function lazy(packOnce: () => Any): () => Any {
  let any: Any | undefined;
  let make: (() => Any) | undefined = packOnce;
  return () => {
    if (!any) {
      any = make!();
      make = undefined;
    }
    return any;
  };
}

/**
 * One object in the cache: kept as the bytes etcd sent until something reads it (a list, a get, a
 * watcher's selector), then decoded once. Most writes are never read back through the cache, so
 * most entries never cost a decode.
 */
class Entry {
  private decoded: KubeObject | undefined;
  private value: Uint8Array | undefined;

  constructor(
    private readonly kind: KindInfo,
    private readonly key: string,
    value: Uint8Array,
    readonly rv: number,
  ) {
    this.value = value;
  }

  /**
   * The value as stored: etcd's bytes while they are still held, else the decoded object encoded
   * again (the same bytes: a stored value is the object's encoding).
   */
  raw(): RawValue {
    const value = this.value ? (this.value as Buffer) : encodeValue(this.kind, this.decoded!);
    return { key: this.key, value, modRevision: this.rv };
  }

  get obj(): KubeObject {
    if (!this.decoded) {
      this.decoded = decodeValue(this.kind, {
        key: this.key,
        value: this.value as Buffer,
        modRevision: this.rv,
      });
      this.value = undefined;
    }
    return this.decoded;
  }
}

export interface WatchFilter {
  /** Namespace prefix filter; "" = all. */
  namespace: string;
  matches(obj: KubeObject): boolean;
  /** matches() is true for every object (no label or field selector): no object need be decoded. */
  everything?: boolean;
}

/** What a watcher receives: events with their Kubernetes type after filtering. */
export interface WatchSink {
  send(type: EventType | "BOOKMARK", packed: Any, rv: number): void;
  /** Ends the watch; err undefined means a normal close. */
  close(err?: Error): void;
}

export class TooOldError extends Error {
  constructor(
    readonly requested: number,
    readonly oldest: number,
  ) {
    super(`too old resource version: ${requested} (${oldest})`);
    this.name = "TooOldError";
  }
}

interface CacheWatcher {
  filter: WatchFilter;
  sink: WatchSink;
  /** Events at or below this revision were already delivered (or predate the watch). */
  minRv: number;
}

export interface CacherOptions {
  /** Events kept for watchers resuming from an older revision. */
  capacity: number;
  log: Logger;
  onWatchersChanged?: (resource: string, count: number) => void;
}

/**
 * The watch cache of one resource (Kubernetes' Cacher): one etcd watch feeds an in-memory copy of
 * every object plus a ring of recent events, and every client watch is served from it. A watch from
 * revision R replays buffered events after R; a revision older than the ring answers "too old" so the
 * client re-lists, unless etcd still has that history (then a dedicated etcd watch serves it, which
 * is what lets a client resume across an apiserver restart without a gap).
 */
export class Cacher {
  private readonly objects = new Map<string, Entry>();
  private readonly events: EventRing<CacheEvent>;
  private readonly watchers = new Set<CacheWatcher>();
  private etcdWatcher: EtcdWatch | undefined;
  private stopped = false;
  /** Revision the cache reflects (highest event seen or the list revision). */
  currentRv = 0;
  /** Watches from revisions >= this are served from the ring. */
  oldestRv = 0;
  private readyPromise: Promise<void>;
  private resolveReady!: () => void;
  private isReady = false;

  constructor(
    readonly kind: KindInfo,
    private readonly etcd: EtcdKv,
    private readonly store: EtcdStore,
    private readonly opts: CacherOptions,
  ) {
    this.events = new EventRing(opts.capacity);
    this.readyPromise = new Promise((r) => {
      this.resolveReady = r;
    });
  }

  get ready(): boolean {
    return this.isReady;
  }

  waitReady(): Promise<void> {
    return this.readyPromise;
  }

  async start(): Promise<void> {
    const log = this.opts.log;
    while (!this.stopped) {
      try {
        await this.initialize();
        return;
      } catch (err) {
        log.warn({ err, resource: this.kind.resource }, "watch cache initialization failed; retrying");
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async initialize(): Promise<void> {
    const prefix = prefixFor(this.kind);
    this.objects.clear();
    let revision = 0;
    let startKey: string | undefined;
    for (;;) {
      const page = await this.store.range(prefix, { startKey, limit: 1000, revision });
      revision = page.revision;
      for (const raw of page.kvs)
        this.objects.set(raw.key, new Entry(this.kind, raw.key, raw.value, raw.modRevision));
      if (!page.more || page.kvs.length === 0) break;
      startKey = `${page.kvs[page.kvs.length - 1]!.key}\0`;
    }
    this.currentRv = revision;
    this.oldestRv = revision;
    this.events.clear();
    const log = this.opts.log;
    await new Promise<void>((resolve, reject) => {
      let created = false;
      this.etcdWatcher = new EtcdWatch(
        this.etcd,
        {
          key: Buffer.from(prefix),
          rangeEnd: prefixEnd(prefix),
          startRevision: revision + 1,
          prevKv: true,
          // Lets currentRv (and so bookmarks) follow etcd's revision while this prefix is quiet.
          progressNotify: true,
        },
        {
          onCreated: () => {
            created = true;
            resolve();
          },
          onEvents: (events) => {
            for (const e of events) this.apply(e);
          },
          onProgress: (rv) => {
            this.currentRv = Math.max(this.currentRv, rv);
          },
          onRetry: (err, from) =>
            log.warn(
              { err, resource: this.kind.resource, revision: from },
              "etcd watch stream broke; resuming on the next member",
            ),
          onError: (err) => {
            if (created) this.restart(err);
            else reject(err);
          },
        },
      );
    });
    this.isReady = true;
    this.resolveReady();
    this.opts.log.debug(
      { resource: this.kind.resource, revision, objects: this.objects.size },
      "watch cache ready",
    );
  }

  /**
   * The cache lost its etcd watch (compaction while disconnected): every watcher is told its
   * history is gone, and the cache re-lists.
   */
  private restart(err: unknown): void {
    if (this.stopped) return;
    this.opts.log.warn({ err, resource: this.kind.resource }, "etcd watch failed; re-listing watch cache");
    this.etcdWatcher?.cancel();
    this.etcdWatcher = undefined;
    for (const w of this.watchers) w.sink.close(new TooOldError(w.minRv, this.currentRv));
    this.watchers.clear();
    this.isReady = false;
    void this.start();
  }

  private apply({ type, kv, prevKv }: WatchEvent): void {
    const deleted = type === "delete";
    const key = kv.key.toString();
    const rv = kv.modRevision;
    const prevEntry = this.objects.get(key);
    let event: CacheEvent;
    if (deleted) {
      // The deletion's kv has no value; the last state comes from prev_kv (or the cache).
      if (!prevKv && !prevEntry) return;
      this.objects.delete(key);
      const value = prevKv?.value;
      const kind = this.kind;
      let last: KubeObject | undefined;
      event = {
        type: "DELETED",
        key,
        rv,
        get object() {
          if (!last) {
            last = value ? decodeValue(kind, { key, value, modRevision: rv }) : prevEntry!.obj;
            if (last.metadata) last.metadata.resourceVersion = String(rv);
          }
          return last;
        },
        get prev() {
          return prevEntry?.obj;
        },
        hadPrev: !!prevEntry,
        packed: lazy(() => (value ? packStored(kind, value, rv) : pack(event.object))),
      };
    } else {
      const entry = new Entry(this.kind, key, kv.value, rv);
      this.objects.set(key, entry);
      event = {
        type: prevEntry ? "MODIFIED" : "ADDED",
        key,
        rv,
        get object() {
          return entry.obj;
        },
        get prev() {
          return prevEntry?.obj;
        },
        hadPrev: !!prevEntry,
        packed: lazy(() => packStored(this.kind, kv.value, rv)),
      };
    }
    this.currentRv = Math.max(this.currentRv, rv);
    const dropped = this.events.push(event);
    if (dropped) this.oldestRv = dropped.rv;
    for (const w of this.watchers) this.deliver(w, event);
  }

  private deliver(w: CacheWatcher, e: CacheEvent): void {
    if (e.rv <= w.minRv) return;
    w.minRv = e.rv;
    if (w.filter.namespace && !e.key.startsWith(prefixFor(this.kind, w.filter.namespace))) return;
    const matches = (o: KubeObject) => w.filter.everything || w.filter.matches(o);
    const now = e.type === "DELETED" ? false : matches(e.object);
    const before = e.hadPrev ? matches(e.prev!) : false;
    // A change that moves an object in or out of the watcher's selection is an ADDED or DELETED
    // for that watcher, as in Kubernetes.
    if (e.type === "DELETED") {
      if (before || (!e.hadPrev && matches(e.object))) w.sink.send("DELETED", e.packed(), e.rv);
    } else if (now && before) w.sink.send("MODIFIED", e.packed(), e.rv);
    else if (now) w.sink.send("ADDED", e.packed(), e.rv);
    else if (before) w.sink.send("DELETED", e.packed(), e.rv);
  }

  /** Objects matching the filter at the cache's current revision (a list with resourceVersion=0). */
  list(filter: WatchFilter): { items: KubeObject[]; rv: number } {
    const prefix = prefixFor(this.kind, filter.namespace);
    const items: KubeObject[] = [];
    for (const [key, entry] of this.objects) {
      if (!key.startsWith(prefix)) continue;
      const obj = entry.obj;
      if (filter.everything || filter.matches(obj)) items.push(obj);
    }
    items.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
    return { items, rv: this.currentRv };
  }

  get(key: string): KubeObject | undefined {
    return this.objects.get(key)?.obj;
  }

  /**
   * The stored value of key as the cache last saw it, for a write to start from (the write's
   * compare on its mod_revision catches a cache that is behind). Undefined when the cache is not
   * ready or does not hold the key.
   */
  getRaw(key: string): RawValue | undefined {
    return this.isReady ? this.objects.get(key)?.raw() : undefined;
  }

  /**
   * Registers a watcher. fromRv 0 means "current state as ADDED events, then changes". Returns a
   * function that removes the watcher. Throws TooOldError when fromRv predates the ring.
   */
  watch(fromRv: number, filter: WatchFilter, sink: WatchSink): () => void {
    const w: CacheWatcher = { filter, sink, minRv: fromRv };
    if (fromRv === 0) {
      const { items, rv } = this.list(filter);
      for (const obj of items) sink.send("ADDED", pack(obj), Number(obj.metadata?.resourceVersion ?? rv));
      w.minRv = rv;
    } else {
      if (fromRv < this.oldestRv) throw new TooOldError(fromRv, this.oldestRv);
      for (const e of this.events.after(fromRv)) this.deliver(w, e);
    }
    this.watchers.add(w);
    this.opts.onWatchersChanged?.(this.kind.resource, this.watchers.size);
    return () => {
      this.watchers.delete(w);
      this.opts.onWatchersChanged?.(this.kind.resource, this.watchers.size);
    };
  }

  watcherCount(): number {
    return this.watchers.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.watchers) w.sink.close();
    this.watchers.clear();
    this.etcdWatcher?.cancel();
  }
}

function keyOf(o: KubeObject): string {
  return `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
}
