import type { Clock } from "@tskube/controller";

/**
 * client-go's flowcontrol token bucket as the node lifecycle controller uses it: `qps` tokens a
 * second, at most `burst` saved up; a rate of 0 (or less) never admits anything, which is how
 * evictions are stopped in a disrupted zone.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly clock: Clock,
    readonly qps: number,
    private readonly burst = 1,
  ) {
    this.tokens = qps > 0 ? burst : 0;
    this.last = clock.now();
  }

  tryAccept(): boolean {
    if (this.qps <= 0) return false;
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
