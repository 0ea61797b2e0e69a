import { Lease, type ObjectMeta } from "@tskube/api";
import type { ResourceClient } from "@tskube/client";
import { type Logger, silentLogger } from "@tskube/log";
import { isAlreadyExists, isConflict, isNotFound } from "@tskube/machinery";
import { type Clock, realClock, sleep } from "./clock.js";

export interface LeaderElectorOptions {
  leases: ResourceClient<Lease>;
  /** The Lease: kube-system/<name>. */
  namespace?: string;
  name: string;
  identity: string;
  /**
   * Written on the Lease whenever this candidate creates, takes or renews it, so the Lease tells
   * who leads and with which settings (tskube records the timing profile here).
   */
  annotations?: Record<string, string>;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
  log?: Logger;
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  onStoppedLeading?(): void;
  onNewLeader?(identity: string): void;
}

/** MicroTime as Kubernetes writes it in Leases. */
const microTime = (ms: number) => new Date(ms).toISOString().replace("Z", "000Z");

/**
 * client-go leader election over a Lease. A candidate takes the Lease when it is free or its holder
 * stopped renewing for leaseDuration; the leader renews every retryPeriod and steps down when it
 * could not renew within renewDeadline. Writes carry the Lease's resourceVersion, so two candidates
 * racing for it cannot both win.
 */
export class LeaderElector {
  private leader = false;
  private observedHolder = "";
  private observedRenew = 0;
  private observedRv = "";
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly namespace: string;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly retryMs: number;

  constructor(private readonly opts: LeaderElectorOptions) {
    this.clock = opts.clock ?? realClock;
    this.log = (opts.log ?? silentLogger).child({ lease: opts.name, identity: opts.identity });
    this.namespace = opts.namespace ?? "kube-system";
    this.leaseMs = opts.leaseDurationMs ?? 15_000;
    this.renewMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2_000;
    if (this.renewMs >= this.leaseMs) throw new Error("leaseDuration must be greater than renewDeadline");
  }

  isLeader(): boolean {
    return this.leader;
  }

  /** Campaigns, leads until the lease is lost or the signal aborts, and then returns. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && !(await this.attempt(signal))) await sleep(this.clock, this.retryMs, signal);
    if (signal.aborted) return;
    this.leader = true;
    this.log.info("became leader");
    const leading = new AbortController();
    const onAbort = () => leading.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    const work = Promise.resolve()
      .then(() => this.opts.onStartedLeading(leading.signal))
      .catch((err) => this.log.error({ err }, "leader work failed"));
    let lastRenew = this.clock.now();
    while (!signal.aborted) {
      await sleep(this.clock, this.retryMs, signal);
      if (signal.aborted) break;
      // A renewal still pending at the deadline counts as failed: by then a standby may already
      // have taken the lease, and two leaders must never act at once.
      const left = lastRenew + this.renewMs - this.clock.now();
      if (left > 0 && (await this.withDeadline(this.attempt(signal), left))) {
        lastRenew = this.clock.now();
      } else if (this.clock.now() - lastRenew >= this.renewMs || this.observedHolder !== this.opts.identity) {
        this.log.warn("failed to renew the lease; stepping down");
        break;
      }
    }
    signal.removeEventListener("abort", onAbort);
    this.leader = false;
    leading.abort();
    await work;
    if (signal.aborted) await this.release();
    this.opts.onStoppedLeading?.();
  }

  /** tryAcquireOrRenew that reports an unreachable apiserver as "not held" instead of throwing. */
  private attempt(signal: AbortSignal): Promise<boolean> {
    return this.tryAcquireOrRenew(signal).catch((err) => {
      if (signal.aborted) return false;
      this.log.warn({ err: (err as Error).message }, "error reading or writing the lease");
      return false;
    });
  }

  /** The attempt's answer, or false when it is still pending after ms. */
  private withDeadline(p: Promise<boolean>, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => resolve(false), ms);
      void p.then((held) => {
        this.clock.clearTimeout(timer);
        resolve(held);
      });
    });
  }

  private spec(now: number, transitions: number, acquired: string) {
    return {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
      acquireTime: acquired,
      renewTime: microTime(now),
      leaseTransitions: transitions,
    };
  }

  /** One attempt: create, renew, or take over an expired lease. True when we hold it afterwards. */
  async tryAcquireOrRenew(signal?: AbortSignal): Promise<boolean> {
    const now = this.clock.now();
    const meta: Partial<ObjectMeta> = {
      name: this.opts.name,
      namespace: this.namespace,
      annotations: { ...this.opts.annotations },
    };
    let current: Lease;
    try {
      // The signal cancels a read stuck on an unresponsive apiserver, so a stopping candidate
      // does not wait out the call deadline.
      current = await this.opts.leases.get(this.opts.name, { namespace: this.namespace, signal });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        const created = await this.opts.leases.create(
          Lease.fromPartial({ metadata: meta, spec: this.spec(now, 0, microTime(now)) }),
        );
        this.observe(created, now);
        return true;
      } catch (e) {
        if (isAlreadyExists(e)) return false;
        throw e;
      }
    }
    const holder = current.spec?.holderIdentity ?? "";
    if (current.metadata?.resourceVersion !== this.observedRv) this.observe(current, now);
    // The holder's own leaseDurationSeconds decides, as in client-go: candidates may be configured
    // differently, and a released lease says 1 s.
    const durationMs = (current.spec?.leaseDurationSeconds ?? 0) * 1000 || this.leaseMs;
    const expired = !holder || now - this.observedRenew >= durationMs;
    if (holder !== this.opts.identity && !expired) return false;
    const transitions = (current.spec?.leaseTransitions ?? 0) + (holder === this.opts.identity ? 0 : 1);
    const acquired =
      holder === this.opts.identity ? (current.spec?.acquireTime ?? microTime(now)) : microTime(now);
    try {
      const updated = await this.opts.leases.update(
        Lease.fromPartial({
          ...current,
          metadata: this.withAnnotations(current.metadata),
          spec: this.spec(now, transitions, acquired),
        }),
      );
      this.observe(updated, now);
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  private withAnnotations(m: ObjectMeta | undefined): ObjectMeta | undefined {
    if (!m || !this.opts.annotations) return m;
    return { ...m, annotations: { ...m.annotations, ...this.opts.annotations } };
  }

  /**
   * Expiry is judged by when this candidate last saw the lease change (its own clock), not by the
   * holder's renewTime, so clock skew between machines does not matter (client-go does the same).
   */
  private observe(lease: Lease, now: number): void {
    const holder = lease.spec?.holderIdentity ?? "";
    if (holder !== this.observedHolder) {
      this.observedHolder = holder;
      if (holder) this.opts.onNewLeader?.(holder);
    }
    this.observedRv = lease.metadata?.resourceVersion ?? "";
    this.observedRenew = now;
  }

  /** Gives the lease up on a clean stop so a standby takes over at once. */
  private async release(): Promise<void> {
    try {
      const current = await this.opts.leases.get(this.opts.name, { namespace: this.namespace });
      if (current.spec?.holderIdentity !== this.opts.identity) return;
      await this.opts.leases.update(
        Lease.fromPartial({
          ...current,
          spec: {
            ...current.spec,
            holderIdentity: "",
            leaseDurationSeconds: 1,
            renewTime: microTime(this.clock.now()),
          },
        }),
      );
      this.log.info("released the lease");
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "could not release the lease");
    }
  }
}
