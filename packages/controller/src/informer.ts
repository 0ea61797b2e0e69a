import { type KindInfo, type KubeObject, objectKey } from "@tskube/api";
import type { ListOptions, ResourceClient } from "@tskube/client";
import { type Logger, silentLogger } from "@tskube/log";
import { isResourceExpired } from "@tskube/machinery";
import { type Clock, realClock, sleep } from "./clock.js";
import { type IndexFunc, Lister, Store } from "./store.js";

export interface EventHandlers<T> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  /** Called with the last state the informer knew. */
  onDelete?(obj: T): void;
}

/** What an informer watches: one kind, optionally narrowed (kubelets watch `spec.nodeName=<node>`). */
export interface InformerScope {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface InformerOptions<T extends KubeObject = KubeObject> extends InformerScope {
  /** Page size of the initial list (default 500). */
  pageSize?: number;
  /** Backoff between failed list/watch attempts: starts here, doubles to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  clock?: Clock;
  log?: Logger;
  indexers?: Record<string, IndexFunc<T>>;
}

/**
 * client-go's shared informer for one kind: list, then watch from the list's resourceVersion;
 * resume the watch from the last revision seen when it breaks (any apiserver will do); re-list when
 * the revision is too old, emitting adds, updates and deletes for the difference, so handlers never
 * miss a change of state.
 */
export class Informer<T extends KubeObject> {
  readonly store: Store<T>;
  readonly lister: Lister<T>;
  private handlers: EventHandlers<T>[] = [];
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private lastRv = "";
  /** The last resourceVersion was compacted away: the next list must read the latest from etcd. */
  private lastRvUnavailable = false;
  private running: Promise<void> | undefined;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(
    private readonly client: ResourceClient<T>,
    private readonly opts: InformerOptions<T> = {},
  ) {
    this.store = new Store<T>(opts.indexers ?? {});
    this.lister = new Lister(this.store);
    this.clock = opts.clock ?? realClock;
    this.log = (opts.log ?? silentLogger).child({ informer: client.kind.resource });
  }

  /** The kind this informer watches. */
  get kind(): KindInfo<T> {
    return this.client.kind;
  }

  /** Adds indexes to the cache; a name already in use is refused (see Store.addIndexer). */
  addIndexers(indexers: Record<string, IndexFunc<T>>): void {
    for (const name of Object.keys(indexers))
      if (this.store.hasIndexer(name))
        throw new Error(
          `indexer conflict: ${this.client.kind.resource} already has an indexer named "${name}"`,
        );
    for (const [name, fn] of Object.entries(indexers)) this.store.addIndexer(name, fn);
  }

  addEventHandler(h: EventHandlers<T>): void {
    this.handlers.push(h);
    // Late handlers see the current state as adds, as in client-go.
    if (this.synced) for (const obj of this.store.list()) h.onAdd?.(obj);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(signal?: AbortSignal): Promise<void> {
    // An already-aborted signal never fires "abort", so it must be checked here.
    if (this.synced || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.syncWaiters.push(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  lastSyncResourceVersion(): string {
    return this.lastRv;
  }

  /**
   * client-go's relistResourceVersion: the first list takes "0", which the apiserver answers from
   * its watch cache (no etcd read, no decoding of every object for a field selector: a kubelet's
   * list of its own pods); after "too old" the list must not go back in time, so "" reads etcd.
   */
  private relistResourceVersion(): string {
    if (this.lastRvUnavailable) return "";
    return this.lastRv || "0";
  }

  private listOptions(): ListOptions {
    const o: ListOptions = {};
    if (this.opts.namespace) o.namespace = this.opts.namespace;
    if (this.opts.labelSelector) o.labelSelector = this.opts.labelSelector;
    if (this.opts.fieldSelector) o.fieldSelector = this.opts.fieldSelector;
    return o;
  }

  /** Starts list and watch in the background (once; later calls do nothing). */
  start(signal: AbortSignal): void {
    void this.run(signal);
  }

  /** Lists and watches until the signal aborts; resolves then. A second call joins the first run. */
  run(signal: AbortSignal): Promise<void> {
    this.running ??= this.listAndWatch(signal);
    return this.running;
  }

  private async listAndWatch(signal: AbortSignal): Promise<void> {
    let backoff = this.opts.initialBackoffMs ?? 800;
    const maxBackoff = this.opts.maxBackoffMs ?? 30_000;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.relist(signal);
          needList = false;
        }
        await this.watch(signal);
        backoff = this.opts.initialBackoffMs ?? 800;
      } catch (err) {
        if (signal.aborted) break;
        if (isResourceExpired(err)) {
          this.log.info({ rv: this.lastRv }, "watch revision too old; re-listing");
          needList = true;
          this.lastRvUnavailable = true;
          continue;
        }
        this.log.warn({ err: (err as Error).message, rv: this.lastRv }, "list/watch failed; retrying");
        await sleep(this.clock, backoff, signal);
        backoff = Math.min(backoff * 2, maxBackoff);
      }
    }
  }

  /** Lists everything and reconciles the store with it, telling handlers what changed. */
  private async relist(signal: AbortSignal): Promise<void> {
    // The signal cancels a list stuck on an unresponsive apiserver, so stopping does not wait out
    // the call deadline.
    const list = await this.client.listAll({
      ...this.listOptions(),
      resourceVersion: this.relistResourceVersion(),
      limit: this.opts.pageSize ?? 500,
      signal,
    });
    this.lastRvUnavailable = false;
    const seen = new Set<string>();
    for (const obj of list.items) {
      const key = objectKey(obj);
      seen.add(key);
      const old = this.store.upsert(obj);
      if (!old) this.emit((h) => h.onAdd?.(obj));
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
        this.emit((h) => h.onUpdate?.(old, obj));
    }
    for (const key of this.store.listKeys()) {
      if (seen.has(key)) continue;
      const gone = this.store.delete(key)!;
      this.emit((h) => h.onDelete?.(gone));
    }
    this.lastRv = list.resourceVersion;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private async watch(signal: AbortSignal): Promise<void> {
    for await (const ev of this.client.watch({
      ...this.listOptions(),
      resourceVersion: this.lastRv,
      allowWatchBookmarks: true,
      signal,
    })) {
      const obj = ev.object;
      const rv = obj.metadata?.resourceVersion ?? "";
      if (ev.type === "BOOKMARK") {
        this.lastRv = rv;
        continue;
      }
      const key = objectKey(obj);
      if (ev.type === "DELETED") {
        const old = this.store.delete(key);
        this.emit((h) => h.onDelete?.(old ?? obj));
      } else {
        const old = this.store.upsert(obj);
        if (old) this.emit((h) => h.onUpdate?.(old, obj));
        else this.emit((h) => h.onAdd?.(obj));
      }
      this.lastRv = rv;
    }
  }

  private emit(fn: (h: EventHandlers<T>) => void): void {
    for (const h of this.handlers) {
      try {
        fn(h);
      } catch (err) {
        this.log.error({ err }, "informer event handler threw");
      }
    }
  }
}
