/**
 * A binary heap of unique keys with removal by key (the scheduling queue's activeQ, as Kubernetes'
 * internal/heap): push, pop and delete cost O(log n) comparisons, where a sorted array costs a
 * sort per added pod, which with thousands of pending pods is most of a burst's work.
 */
export class KeyHeap {
  private readonly items: string[] = [];
  private readonly index = new Map<string, number>();

  constructor(private readonly less: (a: string, b: string) => number) {}

  get size(): number {
    return this.items.length;
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  push(key: string): void {
    if (this.index.has(key)) return;
    this.items.push(key);
    this.index.set(key, this.items.length - 1);
    this.up(this.items.length - 1);
  }

  pop(): string | undefined {
    if (this.items.length === 0) return undefined;
    const top = this.items[0]!;
    this.removeAt(0);
    return top;
  }

  delete(key: string): boolean {
    const i = this.index.get(key);
    if (i === undefined) return false;
    this.removeAt(i);
    return true;
  }

  private removeAt(i: number): void {
    const last = this.items.pop()!;
    this.index.delete(this.items.length === i ? last : this.items[i]!);
    if (i === this.items.length) return;
    this.items[i] = last;
    this.index.set(last, i);
    this.down(i);
    this.up(i);
  }

  private up(i: number): void {
    const items = this.items;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.less(items[i]!, items[parent]!) >= 0) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const items = this.items;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < items.length && this.less(items[l]!, items[m]!) < 0) m = l;
      if (r < items.length && this.less(items[r]!, items[m]!) < 0) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    const items = this.items;
    const ka = items[a]!;
    const kb = items[b]!;
    items[a] = kb;
    items[b] = ka;
    this.index.set(kb, a);
    this.index.set(ka, b);
  }
}
