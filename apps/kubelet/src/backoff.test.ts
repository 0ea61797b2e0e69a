import { describe, expect, it } from "vitest";
import { RestartBackoff } from "./backoff.js";

describe("RestartBackoff", () => {
  it("restarts at once, then waits 10 s doubling to 5 min, and resets after a long run", () => {
    const b = new RestartBackoff({ initialMs: 10_000, maxMs: 300_000, resetMs: 600_000 });
    let now = 0;
    expect(b.tryRestart("p/c", now, 100)).toBe(0);
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      now += 1000;
      const wait = b.tryRestart("p/c", now, 100);
      waits.push(wait + 1000);
      now += wait;
      expect(b.tryRestart("p/c", now, 100)).toBe(0);
    }
    expect(waits).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
    now += 1000;
    expect(b.tryRestart("p/c", now, 700_000)).toBe(0);
    expect(b.delay("p/c")).toBe(10_000);
  });
});
