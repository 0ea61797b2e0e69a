import type { Clock } from "@tskube/controller";

/** Kubernetes' ExpectationsTimeout: a lost watch event cannot stall a controller for longer. */
export const EXPECTATIONS_TIMEOUT_MS = 5 * 60_000;

interface Expectation {
  add: number;
  del: number;
  /** Keys of pods we asked to delete and have not yet seen go (UIDTrackingControllerExpectations). */
  deleting: Set<string>;
  timestamp: number;
}

/**
 * controller.UIDTrackingControllerExpectations. After a controller creates or deletes pods, its
 * informer cache lags behind; syncing again before the cache has caught up would create or delete
 * the same pods twice. So a controller records what it expects to see, counts observations down from
 * the informer's handlers, and only acts again once every expected event arrived (or the
 * expectations expired). Deletions are tracked per pod key, because a graceful deletion is seen
 * twice (the deletionTimestamp update and the final delete) and must count once.
 */
export class ControllerExpectations {
  private readonly items = new Map<string, Expectation>();

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs = EXPECTATIONS_TIMEOUT_MS,
  ) {}

  /** True when the controller may act: nothing pending, or the record is too old to trust. */
  satisfied(key: string): boolean {
    const e = this.items.get(key);
    if (!e) return true;
    if (e.add <= 0 && e.del <= 0) return true;
    return this.clock.now() - e.timestamp > this.timeoutMs;
  }

  expectCreations(key: string, n: number): void {
    this.items.set(key, { add: n, del: 0, deleting: new Set(), timestamp: this.clock.now() });
  }

  expectDeletions(key: string, podKeys: readonly string[]): void {
    this.items.set(key, {
      add: 0,
      del: podKeys.length,
      deleting: new Set(podKeys),
      timestamp: this.clock.now(),
    });
  }

  creationObserved(key: string): void {
    const e = this.items.get(key);
    if (e) e.add--;
  }

  /** A pod we asked to delete is gone (or will not go): counted once per pod. */
  deletionObserved(key: string, podKey: string): void {
    const e = this.items.get(key);
    if (e?.deleting.delete(podKey)) e.del--;
  }

  /** Pending counts, for logs and tests. */
  pending(key: string): { add: number; del: number } | undefined {
    const e = this.items.get(key);
    return e && { add: e.add, del: e.del };
  }

  delete(key: string): void {
    this.items.delete(key);
  }
}
