import type { LeaseGrant } from "./etcd-kv.js";

export interface LeaseManagerOptions {
  /** At most this many seconds of extra life per lease (Kubernetes: 60). */
  reuseDurationSeconds: number;
  /** ... and at most this share of the ttl (Kubernetes: 0.05). */
  reuseDurationPercent: number;
  /** Objects attached to one lease before a new one is granted (Kubernetes: 1000). */
  maxObjectCount: number;
  now?: () => number;
}

export const DEFAULT_LEASE_MANAGER_OPTIONS: LeaseManagerOptions = {
  reuseDurationSeconds: 60,
  reuseDurationPercent: 0.05,
  maxObjectCount: 1000,
};

/**
 * Leases for keys that expire (Events and their --event-ttl), after Kubernetes' etcd3 leaseManager:
 * granting a lease per write would double the writes, so one lease is shared by every write in a
 * time bucket. A lease is granted with a little extra life (the reuse duration) and reused while it
 * outlives the ttl asked for by no more than that extra, so a key lives between ttl and
 * ttl + reuse seconds. Concurrent writes that need a new lease share one grant.
 */
export class LeaseManager {
  private prev: { id: bigint; expiresAt: number; attached: number } | undefined;
  private granting: Promise<bigint> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly grant: (ttlSeconds: number) => Promise<LeaseGrant>,
    private readonly opts: LeaseManagerOptions = DEFAULT_LEASE_MANAGER_OPTIONS,
  ) {
    this.now = opts.now ?? Date.now;
  }

  private reuseSeconds(ttl: number): number {
    return Math.min(Math.floor(this.opts.reuseDurationPercent * ttl), this.opts.reuseDurationSeconds);
  }

  /** A lease that expires between ttlSeconds and ttlSeconds plus the reuse duration from now. */
  async getLease(ttlSeconds: number): Promise<bigint> {
    for (;;) {
      const now = this.now();
      const reuse = this.reuseSeconds(ttlSeconds);
      const p = this.prev;
      if (
        p &&
        now + ttlSeconds * 1000 < p.expiresAt &&
        now + (ttlSeconds + reuse) * 1000 >= p.expiresAt &&
        p.attached < this.opts.maxObjectCount
      ) {
        p.attached++;
        return p.id;
      }
      if (this.granting) {
        // Another write is getting the new lease; check it fits this ttl once it is there.
        await this.granting.catch(() => undefined);
        continue;
      }
      const ttl = ttlSeconds + reuse;
      const granting = this.grant(ttl).then((g) => {
        this.prev = { id: g.id, expiresAt: now + ttl * 1000, attached: 1 };
        return g.id;
      });
      this.granting = granting;
      try {
        return await granting;
      } finally {
        this.granting = undefined;
      }
    }
  }
}
