import { type KubeObject, objectKey } from "@tskube/api";
import { type Logger, silentLogger } from "@tskube/log";
import { type Clock, realClock } from "./clock.js";
import type { EventHandlers } from "./informer.js";
import { type ControllerMetrics, noopReconcileMetrics, type ReconcileResult } from "./metrics.js";
import { controllerOwnerKey } from "./owner.js";
import { isTerminalError } from "./terminal-error.js";
import { WorkQueue } from "./workqueue.js";

export interface ReconcileContext {
  signal: AbortSignal;
  log: Logger;
}

/** What a reconcile may ask for besides success (controller-runtime's reconcile.Result). */
export interface ReconcileRequest {
  /** Come back after this long (the rate limiter's backoff is reset). */
  requeueAfterMs?: number;
  /** Come back with the rate limiter's backoff, without reporting an error. */
  requeue?: boolean;
}

/**
 * A level-based reconcile of one key (controller-runtime's Reconciler): read current state from
 * informer caches, act, and either return, throw (retried with backoff; a TerminalError is not)
 * or ask to come back later.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a reconciler with nothing to ask is an async function, Promise<void>
export type Reconciler = (key: string, ctx: ReconcileContext) => Promise<void | ReconcileRequest>;

/** A cache the workers need filled before they start: an Informer. */
export interface CacheSource {
  start(signal: AbortSignal): void;
  waitForSync(signal?: AbortSignal): Promise<void>;
  hasSynced(): boolean;
}

export interface ControllerOptions {
  name: string;
  reconcile: Reconciler;
  workers?: number;
  clock?: Clock;
  log?: Logger;
  queue?: WorkQueue<string>;
  /** The process's controller metrics; the queue and the reconciles are reported under `name`. */
  metrics?: ControllerMetrics;
  /**
   * Informers started by run() and synced before any worker starts (the builder passes those it
   * watches). Starting an informer already running joins it.
   */
  sources?: readonly CacheSource[];
}

/**
 * Owns a work queue and its workers. Event handlers call enqueue(); only the controller touches the
 * queue, so reconcilers cannot get retry bookkeeping wrong.
 */
export class Controller {
  readonly name: string;
  private readonly queue: WorkQueue<string>;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly metrics;
  private running: Promise<void>[] = [];

  constructor(private readonly opts: ControllerOptions) {
    this.name = opts.name;
    this.clock = opts.clock ?? realClock;
    this.queue =
      opts.queue ??
      new WorkQueue<string>(this.clock, undefined, opts.metrics?.queue<string>(opts.name, this.clock));
    this.metrics = opts.metrics?.reconciler(opts.name) ?? noopReconcileMetrics;
    this.log = (opts.log ?? silentLogger).child({ controller: opts.name });
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  enqueueAfter(key: string, ms: number): void {
    this.queue.addAfter(key, ms);
  }

  /** Enqueues the object's own `namespace/name` key. */
  enqueueObject(obj: KubeObject): void {
    this.queue.add(objectKey(obj));
  }

  /**
   * Enqueues the object's controlling owner when it is of ownerKind (a ReplicaSet for its pods);
   * returns whether there was one. The reconciler still checks the owner's uid against its cache,
   * as a name can be reused by a new object.
   */
  enqueueOwner(obj: KubeObject, ownerKind: string): boolean {
    const key = controllerOwnerKey(obj, { kind: ownerKind });
    if (key === undefined) return false;
    this.queue.add(key);
    return true;
  }

  /** Informer handlers that enqueue the changed object itself: the usual wiring for a primary kind. */
  handlers<T extends KubeObject>(): EventHandlers<T> {
    return {
      onAdd: (obj) => this.enqueueObject(obj),
      onUpdate: (_old, obj) => this.enqueueObject(obj),
      onDelete: (obj) => this.enqueueObject(obj),
    };
  }

  /**
   * Starts the sources and resolves true once all have synced, false if the signal aborts first
   * (client-go's WaitForCacheSync).
   */
  async waitForCacheSync(signal: AbortSignal): Promise<boolean> {
    const sources = this.opts.sources ?? [];
    for (const s of sources) s.start(signal);
    await Promise.all(sources.map((s) => s.waitForSync(signal)));
    return !signal.aborted && sources.every((s) => s.hasSynced());
  }

  /**
   * Starts the sources, waits for them to sync, then starts the workers; resolves when the signal
   * aborts and the workers have finished.
   */
  run(signal: AbortSignal): Promise<void> {
    // An already-aborted signal never fires "abort": without this check the workers would wait on
    // the queue forever and a process stopped during start-up would hang.
    if (signal.aborted) this.queue.shutDown();
    else signal.addEventListener("abort", () => this.queue.shutDown(), { once: true });
    if (!this.opts.sources?.length) return this.startWorkers(signal);
    return this.waitForCacheSync(signal).then((synced) => {
      if (!synced) return;
      this.log.info("caches synced; starting workers");
      return this.startWorkers(signal);
    });
  }

  private startWorkers(signal: AbortSignal): Promise<void> {
    const workers = this.opts.workers ?? 1;
    this.metrics.maxConcurrentReconciles(workers);
    for (let i = 0; i < workers; i++) this.running.push(this.worker(signal));
    return Promise.all(this.running).then(() => undefined);
  }

  private async worker(signal: AbortSignal): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      // Queued keys are dropped, not drained, after a stop: a leader that lost its lease must not
      // keep acting on them while the new leader already does.
      if (signal.aborted) {
        this.queue.done(key);
        return;
      }
      this.metrics.workerStarted();
      try {
        await this.reconcileHandler(key, signal);
      } finally {
        this.metrics.workerStopped();
        this.queue.done(key);
      }
    }
  }

  /** controller-runtime's reconcileHandler: one reconcile, its outcome told to the queue and metrics. */
  private async reconcileHandler(key: string, signal: AbortSignal): Promise<void> {
    const log = this.log.child({ key });
    const start = this.clock.now();
    let result: ReconcileResult;
    let terminal = false;
    try {
      const req = await this.opts.reconcile(key, { signal, log });
      if (req?.requeueAfterMs !== undefined) {
        this.queue.forget(key);
        this.queue.addAfter(key, req.requeueAfterMs);
        result = "requeue_after";
      } else if (req?.requeue) {
        this.queue.addRateLimited(key);
        result = "requeue";
      } else {
        this.queue.forget(key);
        result = "success";
      }
    } catch (err) {
      result = "error";
      if (isTerminalError(err)) {
        terminal = true;
        log.error({ err: (err as Error).message }, "reconcile failed with a terminal error; not requeueing");
        this.queue.forget(key);
      } else {
        log.warn(
          { err: (err as Error).message, retries: this.queue.numRequeues(key) },
          "reconcile failed; requeueing",
        );
        this.queue.addRateLimited(key);
      }
    }
    this.metrics.reconciled(result, (this.clock.now() - start) / 1000, terminal);
  }

  queueLength(): number {
    return this.queue.len();
  }
}
