/** Time as controllers see it; tests inject FakeClock and step it instead of sleeping. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Resolves after ms on the clock, or at once when the signal aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const h = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clock.clearTimeout(h);
      resolve();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/** A clock that moves only when told to; due timers fire in order on step(). */
export class FakeClock implements Clock {
  private timers: Timer[] = [];
  private nextId = 1;
  constructor(private current = 0) {}

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const t = { id: this.nextId++, at: this.current + Math.max(0, ms), fn };
    this.timers.push(t);
    return t.id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  /** Advances time by ms, firing due timers (and letting promise callbacks run between them). */
  async step(ms: number): Promise<void> {
    const end = this.current + ms;
    for (;;) {
      await flush();
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const t = this.timers[0];
      if (!t || t.at > end) break;
      this.timers.shift();
      this.current = t.at;
      t.fn();
    }
    this.current = end;
    await flush();
  }

  pending(): number {
    return this.timers.length;
  }
}

/** Lets queued promise callbacks run (several turns, since chains take several). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}
