import { type KubeObject, objectKey } from "@tskube/api";
import { type Logger, silentLogger } from "@tskube/log";
import { type Clock, realClock } from "./clock.js";
import type { EventHandlers } from "./informer.js";
import { WorkQueue } from "./workqueue.js";

export interface ReconcileContext {
  signal: AbortSignal;
  log: Logger;
}

/**
 * A level-based reconcile of one key (controller-runtime's Reconciler): read current state from
 * informer caches, act, and either return, throw (retried with backoff) or ask to come back later.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a reconciler with nothing to ask is an async function, Promise<void>
export type Reconciler = (key: string, ctx: ReconcileContext) => Promise<void | { requeueAfterMs?: number }>;

export interface ControllerOptions {
  name: string;
  reconcile: Reconciler;
  workers?: number;
  clock?: Clock;
  log?: Logger;
  queue?: WorkQueue<string>;
}

/**
 * Owns a work queue and its workers. Event handlers call enqueue(); only the controller touches the
 * queue, so reconcilers cannot get retry bookkeeping wrong.
 */
export class Controller {
  readonly name: string;
  private readonly queue: WorkQueue<string>;
  private readonly log: Logger;
  private running: Promise<void>[] = [];

  constructor(private readonly opts: ControllerOptions) {
    this.name = opts.name;
    this.queue = opts.queue ?? new WorkQueue<string>(opts.clock ?? realClock);
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
    const ref = obj.metadata?.ownerReferences?.find((r) => r.controller && r.kind === ownerKind);
    if (!ref) return false;
    const namespace = obj.metadata?.namespace;
    this.queue.add(namespace ? `${namespace}/${ref.name}` : ref.name);
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

  /** Starts the workers; resolves when the signal aborts and the workers have finished. */
  run(signal: AbortSignal): Promise<void> {
    // An already-aborted signal never fires "abort": without this check the workers would wait on
    // the queue forever and a process stopped during start-up would hang.
    if (signal.aborted) this.queue.shutDown();
    else signal.addEventListener("abort", () => this.queue.shutDown(), { once: true });
    const workers = this.opts.workers ?? 1;
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
      const log = this.log.child({ key });
      try {
        const result = await this.opts.reconcile(key, { signal, log });
        this.queue.forget(key);
        if (result && result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        log.warn(
          { err: (err as Error).message, retries: this.queue.numRequeues(key) },
          "reconcile failed; requeueing",
        );
        this.queue.addRateLimited(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  queueLength(): number {
    return this.queue.len();
  }
}
