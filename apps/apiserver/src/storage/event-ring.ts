/**
 * The watch cache's recent events (Kubernetes' watchCache keeps the same fixed-size cyclic buffer,
 * startIndex/endIndex into a slice of capacity): once full, each new event overwrites the oldest in
 * place, so a write costs the same however large the ring is. Events come in revision order.
 */
export class EventRing<E extends { rv: number }> {
  private readonly slots: E[] = [];
  /** Index of the oldest event once the ring is full (0 until then). */
  private head = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new Error(`event ring capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.slots.length;
  }

  /** Adds the newest event; returns the oldest one it pushed out, if the ring was full. */
  push(event: E): E | undefined {
    if (this.slots.length < this.capacity) {
      this.slots.push(event);
      return undefined;
    }
    const dropped = this.slots[this.head]!;
    this.slots[this.head] = event;
    this.head = (this.head + 1) % this.capacity;
    return dropped;
  }

  /** The i-th event, oldest first. */
  private at(i: number): E {
    return this.slots[(this.head + i) % this.slots.length]!;
  }

  /** Events with a revision above rv, oldest first (found by binary search, not a scan). */
  *after(rv: number): Generator<E> {
    let lo = 0;
    let hi = this.slots.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).rv > rv) hi = mid;
      else lo = mid + 1;
    }
    for (let i = lo; i < this.slots.length; i++) yield this.at(i);
  }

  clear(): void {
    this.slots.length = 0;
    this.head = 0;
  }
}
