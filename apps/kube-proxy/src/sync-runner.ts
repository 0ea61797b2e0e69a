import { type Clock, realClock } from "@tskube/controller";

export interface SyncRunnerOptions {
  /** At most one sync per minIntervalMs (--iptables-min-sync-period): a burst becomes one sync. */
  minIntervalMs: number;
  /** At least one sync per maxIntervalMs (--iptables-sync-period), to repair rules others changed. */
  maxIntervalMs: number;
  /** How long a request waits for more to join it before the sync starts. */
  burstDelayMs: number;
  clock?: Clock;
  onError?: (err: unknown) => void;
}

/**
 * Kubernetes' BoundedFrequencyRunner: `run()` asks for a sync; syncs never overlap, start no sooner
 * than minInterval after the previous one started, and come at least every maxInterval. A request
 * first waits burstDelay so that the changes of one burst (a rollout touching many Endpoints at
 * once) land in the same sync, yet a lone change is in place after burstDelay plus the sync.
 */
export class SyncRunner {
  private readonly clock: Clock;
  private timer: unknown;
  private timerAt = Number.POSITIVE_INFINITY;
  private lastStart = Number.NEGATIVE_INFINITY;
  private running = false;
  private pending = false;
  private stopped = false;

  constructor(
    private readonly sync: () => Promise<void>,
    private readonly opts: SyncRunnerOptions,
  ) {
    this.clock = opts.clock ?? realClock;
  }

  /** Starts the periodic syncs (the first one at maxInterval; callers run() the initial sync). */
  start(): void {
    this.schedule(this.opts.maxIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Requests a sync soon. Cheap: call it from every informer event. */
  run(): void {
    if (this.stopped) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    const earliest = this.lastStart + this.opts.minIntervalMs - this.clock.now();
    this.schedule(Math.max(this.opts.burstDelayMs, earliest));
  }

  /** Arms the timer for `ms` from now unless it already fires sooner. */
  private schedule(ms: number): void {
    if (this.stopped) return;
    const at = this.clock.now() + ms;
    if (this.timer !== undefined && this.timerAt <= at) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      void this.fire();
    }, ms);
  }

  private async fire(): Promise<void> {
    this.running = true;
    this.pending = false;
    this.lastStart = this.clock.now();
    try {
      await this.sync();
    } catch (err) {
      this.opts.onError?.(err);
      // A failed sync is retried like a change: after minInterval, not in a tight loop.
      this.pending = true;
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    this.schedule(this.opts.maxIntervalMs);
    if (this.pending) this.run();
  }
}
