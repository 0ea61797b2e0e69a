import { type Clock, realClock } from "@tskube/controller";
import { KeyHeap } from "./heap.js";

export interface QueueOptions {
  clock?: Clock;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Unschedulable pods are retried at least this often even without a cluster change. */
  unschedulableFlushMs?: number;
}

interface Entry {
  key: string;
  attempts: number;
  /** Earliest time the pod may be tried again. */
  readyAt: number;
}

/**
 * The scheduling queue (Kubernetes' PriorityQueue, simplified): active pods are tried in order;
 * a pod that failed waits out its backoff (1 s doubling to 10 s by default); an unschedulable pod
 * waits until the cluster changes (a node or pod event) or the periodic flush.
 */
export class SchedulingQueue {
  private readonly active: KeyHeap;
  private backoff = new Map<string, Entry>();
  private unschedulable = new Map<string, Entry>();
  private attempts = new Map<string, number>();
  /** Pods being tried, with the scheduling cycle that popped them. */
  private inFlight = new Map<string, number>();
  /** Pods that changed while being tried: a failure may be stale, so they are retried after backoff. */
  private changedInFlight = new Set<string>();
  private schedulingCycle = 0;
  /** The cycle of the last cluster change (Kubernetes' moveRequestCycle). */
  private moveRequestCycle = -1;
  private waiters: ((key: string | undefined) => void)[] = [];
  private timer: unknown;
  private closed = false;
  private readonly clock: Clock;
  private lastFlush: number;

  constructor(
    order: (a: string, b: string) => number,
    private readonly opts: QueueOptions = {},
  ) {
    this.active = new KeyHeap(order);
    this.clock = opts.clock ?? realClock;
    this.lastFlush = this.clock.now();
  }

  /** A new or changed pending pod: tried now unless it is backing off. */
  add(key: string): void {
    if (this.closed || this.active.has(key) || this.backoff.has(key)) return;
    if (this.inFlight.has(key)) {
      this.changedInFlight.add(key);
      return;
    }
    this.unschedulable.delete(key);
    this.push(key);
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.inFlight.set(key, ++this.schedulingCycle);
      waiter(key);
      return;
    }
    this.active.push(key);
  }

  /** The pod is gone or bound: forget it everywhere. */
  delete(key: string): void {
    this.active.delete(key);
    this.backoff.delete(key);
    this.unschedulable.delete(key);
    this.attempts.delete(key);
  }

  /** Next pod to schedule; waits for one. undefined once closed. */
  pop(): Promise<string | undefined> {
    this.tick();
    const key = this.active.pop();
    if (key !== undefined) {
      this.inFlight.set(key, ++this.schedulingCycle);
      return Promise.resolve(key);
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The attempt finished; on failure the pod backs off or waits for a cluster change. */
  done(key: string, outcome: "scheduled" | "unschedulable" | "error"): void {
    const cycle = this.inFlight.get(key) ?? this.schedulingCycle;
    this.inFlight.delete(key);
    const changed = this.changedInFlight.delete(key);
    if (outcome === "scheduled") {
      this.attempts.delete(key);
      return;
    }
    const attempts = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempts);
    const base = this.opts.initialBackoffMs ?? 1000;
    const delay = Math.min(base * 2 ** (attempts - 1), this.opts.maxBackoffMs ?? 10_000);
    const entry = { key, attempts, readyAt: this.clock.now() + delay };
    // A change during the attempt (a node added while the filters ran) may be what the pod was
    // missing: waiting for the next change could wait forever, so back off instead (as
    // Kubernetes does when a move request came after the pod's scheduling cycle began).
    if (outcome === "unschedulable" && !changed && this.moveRequestCycle < cycle)
      this.unschedulable.set(key, entry);
    else this.backoff.set(key, entry);
    this.schedule();
  }

  /** A node or pod changed: unschedulable pods may fit now (after their backoff). */
  moveAllToActiveOrBackoff(): void {
    this.moveRequestCycle = this.schedulingCycle;
    for (const [key, e] of this.unschedulable) this.backoff.set(key, e);
    this.unschedulable.clear();
    this.schedule();
  }

  /** Moves due pods to active and arms the timer for the next one. */
  private tick(): void {
    const now = this.clock.now();
    if (now - this.lastFlush >= (this.opts.unschedulableFlushMs ?? 30_000)) {
      this.lastFlush = now;
      for (const [key, e] of this.unschedulable) this.backoff.set(key, e);
      this.unschedulable.clear();
    }
    for (const [key, e] of this.backoff) {
      if (e.readyAt <= now) {
        this.backoff.delete(key);
        this.push(key);
      }
    }
  }

  private schedule(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    let next = Number.POSITIVE_INFINITY;
    for (const e of this.backoff.values()) next = Math.min(next, e.readyAt);
    if (this.unschedulable.size)
      next = Math.min(next, this.lastFlush + (this.opts.unschedulableFlushMs ?? 30_000));
    if (next === Number.POSITIVE_INFINITY) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.tick();
        this.schedule();
      },
      Math.max(0, next - this.clock.now()),
    );
  }

  sizes(): { active: number; backoff: number; unschedulable: number } {
    return { active: this.active.size, backoff: this.backoff.size, unschedulable: this.unschedulable.size };
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
