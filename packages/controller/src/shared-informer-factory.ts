import type { KindInfo, KubeObject } from "@tskube/api";
import type { Client } from "@tskube/client";
import type { Logger } from "@tskube/log";
import type { Clock } from "./clock.js";
import { Informer, type InformerScope } from "./informer.js";
import type { IndexFunc } from "./store.js";

export interface SharedInformerFactoryOptions {
  clock?: Clock;
  log?: Logger;
  /** Page size of informers' initial lists. */
  pageSize?: number;
  /**
   * The process's well-known indexes of a kind, put on each of its informers when it is made.
   * Controllers sharing an informer then read one index instead of each registering its own
   * under a name another one already holds (which the store refuses).
   */
  indexers?: (kind: KindInfo) => Record<string, IndexFunc<KubeObject>>;
}

/**
 * One informer per (kind, namespace, selectors) for a whole process (client-go's
 * SharedInformerFactory): controllers that watch the same objects share one watch stream and one
 * cache instead of each holding a copy.
 */
export class SharedInformerFactory {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private signal: AbortSignal | undefined;

  constructor(
    private readonly client: Pick<Client, "resource">,
    private readonly opts: SharedInformerFactoryOptions = {},
  ) {}

  /** The shared informer; created on first request, started at once if the factory already runs. */
  informerFor<T extends KubeObject>(kind: KindInfo<T> | string, scope: InformerScope = {}): Informer<T> {
    const resources = this.client.resource<T>(kind);
    const key = [
      resources.kind.resource,
      scope.namespace ?? "",
      scope.labelSelector ?? "",
      scope.fieldSelector ?? "",
    ].join("|");
    let informer = this.informers.get(key) as Informer<T> | undefined;
    if (!informer) {
      const { indexers, ...opts } = this.opts;
      informer = new Informer<T>(resources, {
        ...opts,
        ...scope,
        indexers: indexers?.(resources.kind) ?? {},
      });
      this.informers.set(key, informer as unknown as Informer<KubeObject>);
      if (this.signal) informer.start(this.signal);
    }
    return informer;
  }

  /** Starts every informer handed out so far and any requested later. */
  start(signal: AbortSignal): void {
    this.signal = signal;
    for (const informer of this.informers.values()) informer.start(signal);
  }

  /** Resolves true once every informer has synced, false if the signal aborts first. */
  async waitForCacheSync(signal: AbortSignal): Promise<boolean> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync(signal)));
    return [...this.informers.values()].every((i) => i.hasSynced());
  }
}
