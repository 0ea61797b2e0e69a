import { type Clock, realClock } from "./clock.js";
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
  ) {}

  add(item: K): void {
    if (this.shuttingDown || this.dirty.has(item)) return;
    this.dirty.add(item);
    if (this.processing.has(item)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(item);
      this.processing.add(item);
      waiter(item);
    } else this.queue.push(item);
  }

  /** Adds the item after ms; an earlier pending add-after for the same item wins. */
  addAfter(item: K, ms: number): void {
    if (this.shuttingDown) return;
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
      this.dirty.delete(item);
      this.processing.add(item);
      return Promise.resolve(item);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(item: K): void {
    this.processing.delete(item);
    if (this.dirty.has(item)) {
      this.dirty.delete(item);
      this.add(item);
    }
  }

  len(): number {
    return this.queue.length;
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }
}
