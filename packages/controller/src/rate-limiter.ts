import type { Clock } from "./clock.js";

/** How long an item waits before it is retried (client-go workqueue.RateLimiter). */
export interface RateLimiter<K = string> {
  when(item: K): number;
  forget(item: K): void;
  numRequeues(item: K): number;
}

/** Per-item exponential backoff: base·2^failures, capped (client-go: 5 ms → 1000 s). */
export class ItemExponentialFailureRateLimiter<K = string> implements RateLimiter<K> {
  private failures = new Map<K, number>();
  constructor(
    private readonly baseMs = 5,
    private readonly maxMs = 1_000_000,
  ) {}

  when(item: K): number {
    const n = this.failures.get(item) ?? 0;
    this.failures.set(item, n + 1);
    return Math.min(this.baseMs * 2 ** n, this.maxMs);
  }

  forget(item: K): void {
    this.failures.delete(item);
  }

  numRequeues(item: K): number {
    return this.failures.get(item) ?? 0;
  }
}

/** A global token bucket (client-go: 10 qps, burst 100) so a storm of failures cannot spin. */
export class BucketRateLimiter<K = string> implements RateLimiter<K> {
  private tokens: number;
  private last: number;
  constructor(
    private readonly clock: Clock,
    private readonly qps = 10,
    private readonly burst = 100,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  when(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }

  forget(): void {}

  numRequeues(): number {
    return 0;
  }
}

/** The worst (longest) of several limiters: client-go's DefaultControllerRateLimiter shape. */
export class MaxOfRateLimiter<K = string> implements RateLimiter<K> {
  constructor(private readonly limiters: RateLimiter<K>[]) {}

  when(item: K): number {
    return Math.max(...this.limiters.map((l) => l.when(item)));
  }

  forget(item: K): void {
    for (const l of this.limiters) l.forget(item);
  }

  numRequeues(item: K): number {
    return Math.max(...this.limiters.map((l) => l.numRequeues(item)));
  }
}

export function defaultControllerRateLimiter<K = string>(clock: Clock): RateLimiter<K> {
  return new MaxOfRateLimiter<K>([
    new ItemExponentialFailureRateLimiter<K>(5, 1_000_000),
    new BucketRateLimiter<K>(clock, 10, 100),
  ]);
}
