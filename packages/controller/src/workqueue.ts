import { type Clock, realClock } from "./clock.js";
import { noopQueueMetrics, type WorkQueueMetrics } from "./metrics.js";
import { defaultControllerRateLimiter, type RateLimiter } from "./rate-limiter.js";

/**
 * client-go's rate-limited work queue. A dirty set collapses bursts (a key added ten times is
 * processed once), and a processing set guarantees a key is never handed to two workers at once: a
 * key added while it is being processed is queued again when the worker calls done().
 */
export class WorkQueue<K = string> {
  private queue: K[] = [];
  private dirty = new Set<K>();
  private processing = new Set<K>();
  private waiters: ((item: K | undefined) => void)[] = [];
  private delayed = new Map<K, { at: number; handle: unknown }>();
  private shuttingDown = false;

  constructor(
    private readonly clock: Clock = realClock,
    readonly rateLimiter: RateLimiter<K> = defaultControllerRateLimiter<K>(clock),
    private readonly metrics: WorkQueueMetrics<K> = noopQueueMetrics,
  ) {}

  add(item: K): void {
    if (this.shuttingDown || this.dirty.has(item)) return;
    this.metrics.add(item);
    this.dirty.add(item);
    if (this.processing.has(item)) return;
    this.push(item);
  }

  /** A dirty item becomes available: straight to a waiting worker, else to the back of the queue. */
  private push(item: K): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.handOut(item);
      waiter(item);
    } else this.queue.push(item);
  }

  private handOut(item: K): void {
    this.dirty.delete(item);
    this.processing.add(item);
    this.metrics.get(item);
  }

  /** Adds the item after ms; an earlier pending add-after for the same item wins. */
  addAfter(item: K, ms: number): void {
    if (this.shuttingDown) return;
    // client-go's delaying queue counts every delayed add as a retry, a requeue-after included.
    this.metrics.retry();
    if (ms <= 0) {
      this.add(item);
      return;
    }
    const at = this.clock.now() + ms;
    const existing = this.delayed.get(item);
    if (existing && existing.at <= at) return;
    if (existing) this.clock.clearTimeout(existing.handle);
    const handle = this.clock.setTimeout(() => {
      this.delayed.delete(item);
      this.add(item);
    }, ms);
    this.delayed.set(item, { at, handle });
  }

  addRateLimited(item: K): void {
    this.addAfter(item, this.rateLimiter.when(item));
  }

  forget(item: K): void {
    this.rateLimiter.forget(item);
  }

  numRequeues(item: K): number {
    return this.rateLimiter.numRequeues(item);
  }

  /** The next item, waiting for one; undefined once the queue is shut down. */
  get(): Promise<K | undefined> {
    const item = this.queue.shift();
    if (item !== undefined) {
      this.handOut(item);
      return Promise.resolve(item);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(item: K): void {
    this.metrics.done(item);
    this.processing.delete(item);
    // Added again while it was processed: already counted as an add, now it may be handed out.
    if (this.dirty.has(item) && !this.shuttingDown) this.push(item);
  }

  len(): number {
    return this.queue.length;
  }

  shutDown(): void {
    if (!this.shuttingDown) this.metrics.shutDown();
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }
}
