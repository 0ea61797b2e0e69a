/**
 * @tskube/controller: informers, work queues and controllers, shaped like client-go and
 * controller-runtime.
 *
 * A controller declares its watches with the builder and reconciles one key:
 *
 *     const c = newControllerManagedBy({ informers, clock, log, metrics })
 *       .named("replicaset").for(replicaSets).owns(pods).complete(reconcile);
 *     await c.run(signal); // starts the informers, waits for sync, runs the workers
 *
 * A reconciler throws to be retried with backoff, throws a TerminalError to be forgotten, or
 * returns `{ requeueAfterMs }` / `{ requeue: true }`.
 *
 * Metrics: call `registerControllerMetrics(registry)` once per component on its prom-client
 * registry and pass the result as `metrics` (to the builder's context or to `new Controller`).
 * Every queue then reports client-go's workqueue_* series under `name`, every controller
 * controller-runtime's controller_runtime_reconcile_* series under `controller`.
 *
 * Indexes: an index name can be taken once per informer; processes that share informers between
 * controllers register their well-known indexes once, through SharedInformerFactory's `indexers`.
 */
export * from "./builder.js";
export * from "./clock.js";
export * from "./controller.js";
export * from "./event-recorder.js";
export * from "./informer.js";
export * from "./leader-elector.js";
export * from "./metrics.js";
export * from "./owner.js";
export * from "./rate-limiter.js";
export * from "./shared-informer-factory.js";
export * from "./store.js";
export * from "./terminal-error.js";
export * from "./workqueue.js";
