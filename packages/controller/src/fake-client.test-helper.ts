import { KINDS, type KindInfo, type KubeObject, objectKey } from "@tskube/api";
import type { ListOptions, ListResult, ResourceClient, WatchEvent, WatchOptions } from "@tskube/client";
import { ApiError, errors } from "@tskube/machinery";

/**
 * An in-memory ResourceClient for unit tests: resourceVersion-checked writes, a global revision,
 * and watches that replay history after a revision (or answer "too old" below `compactedRv`).
 */
export class FakeResourceClient<T extends KubeObject> implements ResourceClient<T> {
  readonly kind: KindInfo<T>;
  private objects = new Map<string, T>();
  private history: { rv: number; type: "ADDED" | "MODIFIED" | "DELETED"; obj: T }[] = [];
  private rv = 0;
  compactedRv = 0;
  private watchers = new Set<(e: WatchEvent<T>) => void>();
  private wakers = new Set<() => void>();
  private breakGeneration = 0;
  /** Set to make the next watch calls fail (a dead apiserver). */
  failWatches = 0;
  /** Set to make the next list calls fail. */
  failLists = 0;
  watchCalls = 0;
  /** Called before each create; throwing makes that create fail (a quota, a webhook). */
  beforeCreate: ((obj: T) => void) | undefined;
  /** Options of every list and watch call, to check what informers ask for. */
  listOptions: ListOptions[] = [];
  watchOptions: WatchOptions[] = [];

  constructor(kindName: string) {
    this.kind = KINDS.find((k) => k.kind === kindName)! as unknown as KindInfo<T>;
  }

  private gr() {
    return { group: this.kind.group, resource: this.kind.resource, kind: this.kind.kind };
  }

  private record(type: "ADDED" | "MODIFIED" | "DELETED", obj: T): T {
    this.rv++;
    const copy = structuredClone(obj);
    copy.metadata!.resourceVersion = String(this.rv);
    this.history.push({ rv: this.rv, type, obj: copy });
    for (const w of this.watchers) w({ type, object: structuredClone(copy) });
    return copy;
  }

  async create(obj: T): Promise<T> {
    this.beforeCreate?.(obj);
    // As the apiserver does: generateName gets a unique suffix, every object a uid.
    const m = obj.metadata!;
    if (!m.name && m.generateName)
      obj = { ...obj, metadata: { ...m, name: `${m.generateName}${this.rv + 1}x` } };
    if (!obj.metadata!.uid)
      obj = { ...obj, metadata: { ...obj.metadata!, uid: `uid-${this.kind.resource}-${this.rv + 1}` } };
    const key = objectKey(obj);
    if (this.objects.has(key)) throw errors.alreadyExists(this.gr(), obj.metadata!.name);
    const stored = this.record("ADDED", obj);
    this.objects.set(key, stored);
    return structuredClone(stored);
  }

  async get(name: string, opts: { namespace?: string; signal?: AbortSignal } = {}): Promise<T> {
    const key = this.kind.namespaced ? `${opts.namespace ?? "default"}/${name}` : name;
    const o = this.objects.get(key);
    if (!o) throw errors.notFound(this.gr(), name);
    return structuredClone(o);
  }

  async list(opts: ListOptions = {}): Promise<ListResult<T>> {
    const { signal: _, ...recorded } = opts;
    this.listOptions.push(recorded);
    if (this.failLists > 0) {
      this.failLists--;
      throw new ApiError(14, "ServiceUnavailable", "connection refused");
    }
    return {
      items: [...this.objects.values()].map((o) => structuredClone(o)),
      resourceVersion: String(this.rv),
      continue: "",
    };
  }

  listAll(opts: ListOptions = {}): Promise<ListResult<T>> {
    return this.list(opts);
  }

  async update(obj: T): Promise<T> {
    const key = objectKey(obj);
    const cur = this.objects.get(key);
    if (!cur) throw errors.notFound(this.gr(), obj.metadata!.name);
    if (obj.metadata!.resourceVersion && obj.metadata!.resourceVersion !== cur.metadata!.resourceVersion) {
      throw errors.conflict(
        this.gr(),
        obj.metadata!.name,
        "the object has been modified; please apply your changes to the latest version and try again",
      );
    }
    const stored = this.record("MODIFIED", obj);
    this.objects.set(key, stored);
    return structuredClone(stored);
  }

  updateStatus(obj: T): Promise<T> {
    return this.update(obj);
  }

  async patch(): Promise<T> {
    throw new Error("not used in these tests");
  }

  async delete(name: string, opts: { namespace?: string; preconditions?: { uid?: string } } = {}) {
    const key = this.kind.namespaced ? `${opts.namespace ?? "default"}/${name}` : name;
    const cur = this.objects.get(key);
    if (!cur) throw errors.notFound(this.gr(), name);
    if (opts.preconditions?.uid && opts.preconditions.uid !== cur.metadata!.uid)
      throw errors.conflict(this.gr(), name, "Precondition failed: UID in precondition");
    this.objects.delete(key);
    return { object: this.record("DELETED", cur), deleted: true };
  }

  async deleteCollection(): Promise<T[]> {
    return [];
  }

  async *watch(opts: WatchOptions = {}): AsyncIterable<WatchEvent<T>> {
    this.watchCalls++;
    const { signal: _, ...recorded } = opts;
    this.watchOptions.push(recorded);
    if (this.failWatches > 0) {
      this.failWatches--;
      throw new ApiError(14, "ServiceUnavailable", "connection refused");
    }
    const from = Number(opts.resourceVersion || 0);
    if (from < this.compactedRv)
      throw errors.resourceExpired(`too old resource version: ${from} (${this.compactedRv})`);
    const generation = this.breakGeneration;
    const queue: WatchEvent<T>[] = this.history
      .filter((h) => h.rv > from)
      .map((h) => ({ type: h.type, object: structuredClone(h.obj) }));
    let wake: (() => void) | undefined;
    const push = (e: WatchEvent<T>) => {
      queue.push(e);
      wake?.();
    };
    this.watchers.add(push);
    const abort = () => wake?.();
    const waker = () => wake?.();
    this.wakers.add(waker);
    opts.signal?.addEventListener("abort", abort);
    try {
      while (!opts.signal?.aborted) {
        const e = queue.shift();
        if (e) {
          yield e;
          continue;
        }
        if (this.breakGeneration !== generation)
          throw new ApiError(14, "ServiceUnavailable", "stream broken");
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    } finally {
      this.wakers.delete(waker);
      this.watchers.delete(push);
      opts.signal?.removeEventListener("abort", abort);
    }
  }

  /** Sends a BOOKMARK at the current revision to open watches, as the apiserver does periodically. */
  bookmark(): void {
    const object = this.kind.messageType.fromPartial({ metadata: { resourceVersion: String(this.rv) } });
    for (const w of this.watchers) w({ type: "BOOKMARK", object });
  }

  /** Writes that leave no history a watch could replay (as if the revision moved on elsewhere). */
  bumpRevision(): void {
    this.rv++;
  }

  /** Ends open watch streams with an error; later watches work again. */
  breakOpenWatches(): void {
    this.breakGeneration++;
    for (const w of [...this.wakers]) w();
  }

  /** Simulates etcd compaction: history up to the current revision is gone. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  /** Writes without notifying watchers, as if they were disconnected at the time. */
  silently(fn: () => void): void {
    const saved = new Set(this.watchers);
    this.watchers.clear();
    fn();
    for (const w of saved) this.watchers.add(w);
  }
}

/** A Client whose every kind is a FakeResourceClient, for controllers that use several kinds. */
export class FakeClient {
  private readonly clients = new Map<string, FakeResourceClient<KubeObject>>();

  resource<T extends KubeObject = KubeObject>(kind: KindInfo<T> | string): FakeResourceClient<T> {
    const info = typeof kind === "string" ? KINDS.find((k) => k.kind === kind || k.resource === kind) : kind;
    if (!info) throw new Error(`unknown kind ${String(kind)}`);
    let c = this.clients.get(info.kind);
    if (!c) {
      c = new FakeResourceClient<KubeObject>(info.kind);
      this.clients.set(info.kind, c);
    }
    return c as unknown as FakeResourceClient<T>;
  }

  /**
   * pods/binding as the apiserver does it (nodeName set once, uid checked), written through the
   * pods client's update so tests that intercept pod updates see bindings too.
   */
  async bind(o: { namespace: string; name: string; uid?: string; node: string }): Promise<KubeObject> {
    const pods = this.resource("Pod");
    const pod = (await pods.get(o.name, { namespace: o.namespace })) as KubeObject & {
      spec?: { nodeName?: string };
    };
    const gr = { group: "", resource: "pods", kind: "Pod" };
    if (o.uid && pod.metadata?.uid !== o.uid) throw errors.conflict(gr, o.name, "Precondition failed: UID");
    if (pod.spec?.nodeName)
      throw errors.conflict(gr, o.name, `pod ${o.name} is already assigned to node "${pod.spec.nodeName}"`);
    return pods.update({ ...pod, spec: { ...pod.spec, nodeName: o.node } } as KubeObject);
  }
}
