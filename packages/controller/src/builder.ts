import type { KindInfo, KubeObject } from "@tskube/api";
import { objectKey } from "@tskube/api";
import type { Logger } from "@tskube/log";
import type { Clock } from "./clock.js";
import { Controller, type ControllerOptions, type Reconciler } from "./controller.js";
import type { EventHandlers, Informer, InformerScope } from "./informer.js";
import type { ControllerMetrics } from "./metrics.js";
import { controllerOwnerKey } from "./owner.js";

/** Maps a changed object to the keys to reconcile (controller-runtime's handler.MapFunc). */
export type MapFunc<T> = (obj: T) => Iterable<string>;

/**
 * Filters events before they are mapped (controller-runtime's predicate.Funcs): a missing
 * function lets that event through.
 */
export interface Predicate<T> {
  create?(obj: T): boolean;
  update?(oldObj: T, newObj: T): boolean;
  delete?(obj: T): boolean;
}

/** What an event handler may do with the controller's queue: add keys, now or later. */
export interface Enqueuer {
  add(key: string): void;
  addAfter(key: string, ms: number): void;
}

/**
 * A full event handler (controller-runtime's handler.Funcs), for a watch whose events do more
 * than map to keys: the ReplicaSet controller observes its expectations on pod events.
 */
export interface EventHandler<T> {
  onAdd?(obj: T, queue: Enqueuer): void;
  onUpdate?(oldObj: T, newObj: T, queue: Enqueuer): void;
  onDelete?(obj: T, queue: Enqueuer): void;
}

/** An informer, or the kind (and scope) of a shared one. */
export type Source<T extends KubeObject> = Informer<T> | KindInfo<T> | string;

export interface WatchOptions<T> {
  /** Narrows a shared informer asked for by kind (ignored for an Informer passed in). */
  scope?: InformerScope;
  predicates?: readonly Predicate<T>[];
}

/** What a builder needs from the process (controller-runtime's Manager): caches, clock, logs, metrics. */
export interface BuilderContext {
  informers?: {
    informerFor<T extends KubeObject>(kind: KindInfo<T> | string, scope?: InformerScope): Informer<T>;
  };
  clock?: Clock;
  log?: Logger;
  metrics?: ControllerMetrics;
}

export type BuilderOptions = Pick<ControllerOptions, "workers" | "queue">;

type Watch = (c: Controller, forKind: KindInfo | undefined) => Informer<KubeObject>;

/**
 * Declares what a controller watches, controller-runtime's builder shape:
 *
 *     const controller = newControllerManagedBy(ctx)
 *       .named("replicaset")
 *       .for(replicaSets)          // its own key on every change
 *       .owns(pods)                // the controlling ReplicaSet's key (ownerReferences, kind-checked)
 *       .watches(nodes, mapFunc)   // whatever keys a function maps the object to
 *       .withOptions({ workers: 5 })
 *       .complete(reconcile);
 *
 * The Controller it builds starts those informers, waits until all have synced and then runs its
 * workers; reconcilers get `(key, { signal, log })`.
 */
export class ControllerBuilder {
  private name: string | undefined;
  private forSource: { source: Source<KubeObject>; opts: WatchOptions<KubeObject> } | undefined;
  private readonly watches_: Watch[] = [];
  private options: BuilderOptions = {};
  private ownsDependents = false;

  constructor(private readonly ctx: BuilderContext) {}

  /** The controller's name: its log binding, its queue's and its metrics' label. */
  named(name: string): this {
    this.name = name;
    return this;
  }

  /**
   * The primary kind: every add, update and delete enqueues the object's own key. A controller
   * without one (the garbage collector keys items its own way) only watches.
   */
  for<T extends KubeObject>(source: Source<T>, opts: WatchOptions<NoInfer<T>> = {}): this {
    if (this.forSource) throw new Error("for() may only be called once: a controller reconciles one kind");
    this.forSource = { source: source as Source<KubeObject>, opts: opts as WatchOptions<KubeObject> };
    return this;
  }

  /**
   * A dependent kind: its events enqueue the controlling owner's key when that owner is of the
   * primary kind (group and kind compared, controller-runtime's OnlyControllerOwner). On update
   * both the old and the new owner are enqueued, so an owner that lost a dependent hears of it.
   */
  owns<T extends KubeObject>(source: Source<T>, opts: WatchOptions<NoInfer<T>> = {}): this {
    this.ownsDependents = true;
    this.watches_.push((c, forKind) => {
      const owner = { kind: forKind!.kind, group: forKind!.group, namespaced: forKind!.namespaced };
      const map = (o: T) => {
        const key = controllerOwnerKey(o, owner);
        return key === undefined ? [] : [key];
      };
      return this.register(c, source, mapHandler(map), opts);
    });
    return this;
  }

  /**
   * Any other kind: a MapFunc from the object to the keys to enqueue (on update, of the old and
   * the new object), or a full EventHandler.
   */
  watches<T extends KubeObject>(
    source: Source<T>,
    handler: MapFunc<NoInfer<T>> | EventHandler<NoInfer<T>>,
    opts: WatchOptions<NoInfer<T>> = {},
  ): this {
    this.watches_.push((c) =>
      this.register(c, source, typeof handler === "function" ? mapHandler(handler) : handler, opts),
    );
    return this;
  }

  withOptions(options: BuilderOptions): this {
    this.options = { ...this.options, ...options };
    return this;
  }

  /** Builds the Controller and registers its event handlers; run() starts it. */
  complete(reconcile: Reconciler): Controller {
    if (!this.name) throw new Error("a controller needs a name: call named()");
    if (this.ownsDependents && !this.forSource)
      throw new Error(`controller "${this.name}": owns() needs for() to name the owner kind`);
    // Filled below, once the handlers that feed the controller's queue are registered; read by run().
    const sources: Informer<KubeObject>[] = [];
    const controller = new Controller({
      ...this.options,
      name: this.name,
      reconcile,
      sources,
      ...(this.ctx.clock ? { clock: this.ctx.clock } : {}),
      ...(this.ctx.log ? { log: this.ctx.log } : {}),
      ...(this.ctx.metrics ? { metrics: this.ctx.metrics } : {}),
    });
    let forKind: KindInfo | undefined;
    if (this.forSource) {
      const own = (o: KubeObject) => [objectKey(o)];
      const primary = this.register(controller, this.forSource.source, mapHandler(own), this.forSource.opts);
      sources.push(primary);
      forKind = primary.kind as KindInfo;
    }
    for (const w of this.watches_) {
      const informer = w(controller, forKind);
      if (!sources.includes(informer)) sources.push(informer);
    }
    return controller;
  }

  private informer<T extends KubeObject>(source: Source<T>, scope: InformerScope | undefined): Informer<T> {
    if (typeof source === "object" && "addEventHandler" in source) return source;
    if (!this.ctx.informers)
      throw new Error(
        `controller "${this.name}": watching ${kindName(source)} by kind needs shared informers`,
      );
    return this.ctx.informers.informerFor<T>(source, scope);
  }

  private register<T extends KubeObject>(
    c: Controller,
    source: Source<T>,
    handler: EventHandler<T>,
    opts: WatchOptions<T>,
  ): Informer<KubeObject> {
    const informer = this.informer(source, opts.scope);
    informer.addEventHandler(filtered(handler, opts.predicates ?? [], queueOf(c)));
    return informer as unknown as Informer<KubeObject>;
  }
}

/** controller-runtime's ctrl.NewControllerManagedBy. */
export function newControllerManagedBy(ctx: BuilderContext): ControllerBuilder {
  return new ControllerBuilder(ctx);
}

function kindName(source: KindInfo | string): string {
  return typeof source === "string" ? source : source.resource;
}

function queueOf(c: Controller): Enqueuer {
  return { add: (key) => c.enqueue(key), addAfter: (key, ms) => c.enqueueAfter(key, ms) };
}

/** controller-runtime's EnqueueRequestsFromMapFunc: on update, the old object's keys and the new one's. */
function mapHandler<T>(map: MapFunc<T>): EventHandler<T> {
  const enqueue = (q: Enqueuer, obj: T) => {
    for (const key of map(obj)) q.add(key);
  };
  return {
    onAdd: (obj, q) => enqueue(q, obj),
    onUpdate: (old, obj, q) => {
      enqueue(q, old);
      enqueue(q, obj);
    },
    onDelete: (obj, q) => enqueue(q, obj),
  };
}

/** The informer's handlers: each event passes every predicate, then reaches the handler with the queue. */
function filtered<T>(h: EventHandler<T>, predicates: readonly Predicate<T>[], q: Enqueuer): EventHandlers<T> {
  const out: EventHandlers<T> = {};
  if (h.onAdd) {
    const on = h.onAdd;
    out.onAdd = (obj) => {
      if (predicates.every((p) => p.create?.(obj) ?? true)) on(obj, q);
    };
  }
  if (h.onUpdate) {
    const on = h.onUpdate;
    out.onUpdate = (old, obj) => {
      if (predicates.every((p) => p.update?.(old, obj) ?? true)) on(old, obj, q);
    };
  }
  if (h.onDelete) {
    const on = h.onDelete;
    out.onDelete = (obj) => {
      if (predicates.every((p) => p.delete?.(obj) ?? true)) on(obj, q);
    };
  }
  return out;
}

/** Lets only deletions through: for a watch that matters only when its objects go. */
export const onlyDeletes: Predicate<unknown> = { create: () => false, update: () => false };

/**
 * controller-runtime's ResourceVersionChangedPredicate: an update whose resourceVersion did not
 * move (a re-list finding the same object) is dropped.
 */
export const resourceVersionChanged: Predicate<KubeObject> = {
  update: (old, obj) => old.metadata?.resourceVersion !== obj.metadata?.resourceVersion,
};
