import { type Clock, realClock } from "@tskube/controller";

interface Affinity {
  endpoint: string;
  lastUsed: number;
}

/**
 * Kubernetes' userspace LoadBalancerRR for one service port: round-robin over the ready endpoints;
 * with ClientIP affinity a client goes back to the endpoint it last used until it has been idle for
 * the affinity timeout. A changed endpoint set restarts the rotation and forgets affinities to
 * endpoints that are gone.
 */
export class RoundRobin {
  private endpoints: string[] = [];
  private index = 0;
  private readonly affinity = new Map<string, Affinity>();
  private readonly clock: Clock;

  constructor(
    private affinitySeconds = 0,
    clock?: Clock,
  ) {
    this.clock = clock ?? realClock;
  }

  update(endpoints: string[], affinitySeconds: number): void {
    this.affinitySeconds = affinitySeconds;
    if (!affinitySeconds) this.affinity.clear();
    if (endpoints.length === this.endpoints.length && endpoints.every((e, i) => e === this.endpoints[i]))
      return;
    this.endpoints = [...endpoints];
    this.index = 0;
    const live = new Set(endpoints);
    for (const [ip, a] of this.affinity) if (!live.has(a.endpoint)) this.affinity.delete(ip);
  }

  get size(): number {
    return this.endpoints.length;
  }

  has(endpoint: string): boolean {
    return this.endpoints.includes(endpoint);
  }

  /**
   * The endpoint for a new connection from clientIp, or undefined when there is none. `skip` holds
   * endpoints that already failed for this connection: they are passed over (and an affinity to
   * one of them is dropped), so a retry goes elsewhere.
   */
  next(clientIp: string, skip: ReadonlySet<string> = new Set()): string | undefined {
    const now = this.clock.now();
    if (this.affinitySeconds) {
      const a = this.affinity.get(clientIp);
      if (a && !skip.has(a.endpoint) && now - a.lastUsed < this.affinitySeconds * 1000) {
        a.lastUsed = now;
        return a.endpoint;
      }
      this.affinity.delete(clientIp);
    }
    for (let i = 0; i < this.endpoints.length; i++) {
      const e = this.endpoints[this.index % this.endpoints.length]!;
      this.index = (this.index + 1) % this.endpoints.length;
      if (skip.has(e)) continue;
      if (this.affinitySeconds) this.affinity.set(clientIp, { endpoint: e, lastUsed: now });
      return e;
    }
    return undefined;
  }
}
