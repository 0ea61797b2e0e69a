import { describe, expect, it } from "vitest";
import { EventRing } from "./event-ring.js";

const ev = (rv: number) => ({ rv });
const rvs = (it: Iterable<{ rv: number }>) => [...it].map((e) => e.rv);

describe("EventRing", () => {
  it("keeps the newest capacity events, pushing out the oldest one at a time", () => {
    const ring = new EventRing(3);
    expect(ring.push(ev(1))).toBeUndefined();
    expect(ring.push(ev(2))).toBeUndefined();
    expect(ring.push(ev(3))).toBeUndefined();
    expect(rvs(ring.after(0))).toEqual([1, 2, 3]);
    expect(ring.push(ev(4))).toEqual(ev(1));
    expect(ring.push(ev(5))).toEqual(ev(2));
    expect(ring.size).toBe(3);
    expect(rvs(ring.after(0))).toEqual([3, 4, 5]);
  });

  it("replays from any revision across the wrap point, revisions with gaps included", () => {
    const ring = new EventRing(4);
    for (const rv of [10, 12, 13, 17, 20, 21]) ring.push(ev(rv));
    // Holds 13, 17, 20, 21 with the oldest in the middle of the slots.
    expect(rvs(ring.after(0))).toEqual([13, 17, 20, 21]);
    expect(rvs(ring.after(13))).toEqual([17, 20, 21]);
    expect(rvs(ring.after(14))).toEqual([17, 20, 21]);
    expect(rvs(ring.after(17))).toEqual([20, 21]);
    expect(rvs(ring.after(20))).toEqual([21]);
    expect(rvs(ring.after(21))).toEqual([]);
    expect(rvs(ring.after(99))).toEqual([]);
  });

  it("agrees with a plain array's slice for every length and start revision", () => {
    for (const capacity of [1, 2, 5, 8]) {
      const ring = new EventRing(capacity);
      const all: number[] = [];
      for (let rv = 1; rv <= 30; rv += 1 + (rv % 3)) {
        ring.push(ev(rv));
        all.push(rv);
        const kept = all.slice(-capacity);
        for (let from = 0; from <= rv + 1; from++)
          expect(rvs(ring.after(from)), `capacity ${capacity}, after ${from}`).toEqual(
            kept.filter((r) => r > from),
          );
      }
    }
  });

  it("does not copy itself on a push once full", () => {
    const ring = new EventRing(20_000);
    for (let rv = 1; rv <= 20_000; rv++) ring.push(ev(rv));
    // A ring that copied (or shifted) its array on every write would move 20,000 elements per push:
    // 50,000 pushes, 10^9 moves, seconds. In place they take a few milliseconds.
    const started = performance.now();
    for (let rv = 20_001; rv <= 70_000; rv++) ring.push(ev(rv));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(rvs(ring.after(69_998))).toEqual([69_999, 70_000]);
    expect(ring.size).toBe(20_000);
  });

  it("starts over when cleared", () => {
    const ring = new EventRing(2);
    for (const rv of [1, 2, 3]) ring.push(ev(rv));
    ring.clear();
    expect(ring.size).toBe(0);
    ring.push(ev(7));
    expect(rvs(ring.after(0))).toEqual([7]);
  });

  it("refuses a capacity below 1", () => {
    expect(() => new EventRing(0)).toThrow(/positive integer/);
  });
});
