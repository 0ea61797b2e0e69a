import { type KubeObject, objectKey } from "@tskube/api";
import { parseSelector, type Selector } from "@tskube/machinery";

export type IndexFunc<T> = (obj: T) => string[];

export const NAMESPACE_INDEX = "namespace";

/**
 * The informer's cache (client-go's thread-safe store + indexer): objects by `namespace/name`, with
 * named indexes kept up to date on every change.
 */
export class Store<T extends KubeObject> {
  private items = new Map<string, T>();
  private indexers = new Map<string, IndexFunc<T>>();
  private indices = new Map<string, Map<string, Set<string>>>();

  constructor(indexers: Record<string, IndexFunc<T>> = {}) {
    this.addIndexer(NAMESPACE_INDEX, (o) => [o.metadata?.namespace ?? ""]);
    for (const [name, fn] of Object.entries(indexers)) this.addIndexer(name, fn);
  }

  /**
   * Adds a named index over the cached objects (and those already cached). A name already taken
   * is refused, as client-go's AddIndexers refuses a conflict: two controllers sharing one
   * informer must not silently swap each other's index for theirs.
   */
  addIndexer(name: string, fn: IndexFunc<T>): void {
    if (this.indexers.has(name))
      throw new Error(`indexer conflict: an indexer named "${name}" already exists`);
    this.indexers.set(name, fn);
    const index = new Map<string, Set<string>>();
    this.indices.set(name, index);
    for (const [key, obj] of this.items) for (const v of fn(obj)) setAdd(index, v, key);
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name)!;
      for (const v of fn(obj)) {
        const set = index.get(v);
        set?.delete(key);
        if (set?.size === 0) index.delete(v);
      }
    }
  }

  private index(key: string, obj: T): void {
    for (const [name, fn] of this.indexers) for (const v of fn(obj)) setAdd(this.indices.get(name)!, v, key);
  }

  /** client-go's Add: the same as upsert in a keyed cache. */
  add(obj: T): void {
    this.upsert(obj);
  }

  /** client-go's Update: the same as upsert in a keyed cache. */
  update(obj: T): void {
    this.upsert(obj);
  }

  /** Adds or replaces; returns the previous object. */
  upsert(obj: T): T | undefined {
    const key = objectKey(obj);
    const old = this.items.get(key);
    if (old) this.unindex(key, old);
    this.items.set(key, obj);
    this.index(key, obj);
    return old;
  }

  delete(key: string): T | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    this.unindex(key, old);
    this.items.delete(key);
    return old;
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  getByName(namespace: string, name: string): T | undefined {
    return this.items.get(namespace ? `${namespace}/${name}` : name);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  listKeys(): string[] {
    return [...this.items.keys()];
  }

  hasIndexer(name: string): boolean {
    return this.indexers.has(name);
  }

  byIndex(indexName: string, value: string): T[] {
    const keys = this.indices.get(indexName)?.get(value);
    if (!keys) return [];
    return [...keys].map((k) => this.items.get(k)!);
  }

  get size(): number {
    return this.items.size;
  }
}

function setAdd(index: Map<string, Set<string>>, value: string, key: string): void {
  const set = index.get(value);
  if (set) set.add(key);
  else index.set(value, new Set([key]));
}

/** Read access for reconcilers (client-go Lister): namespace and label selector filters. */
export class Lister<T extends KubeObject> {
  constructor(private readonly store: Store<T>) {}

  get(namespace: string, name: string): T | undefined {
    return this.store.getByName(namespace, name);
  }

  list(namespace?: string, selector?: Selector | string): T[] {
    const sel = typeof selector === "string" ? parseSelector(selector) : selector;
    const items = namespace ? this.store.byIndex(NAMESPACE_INDEX, namespace) : this.store.list();
    return sel ? items.filter((o) => sel.matches(o.metadata?.labels ?? {})) : items;
  }
}
