import { describe, expect, it } from "vitest";
import { LeaseManager } from "./lease-manager.js";

function setup(opts: { maxObjectCount?: number } = {}) {
  let now = 1_000_000;
  const grants: number[] = [];
  let next = 1n;
  let release: (() => void) | undefined;
  let hold = false;
  const manager = new LeaseManager(
    async (ttlSeconds) => {
      grants.push(ttlSeconds);
      if (hold) await new Promise<void>((r) => (release = r));
      return { id: next++, ttlSeconds };
    },
    {
      reuseDurationSeconds: 60,
      reuseDurationPercent: 0.05,
      maxObjectCount: opts.maxObjectCount ?? 1000,
      now: () => now,
    },
  );
  return {
    manager,
    grants,
    advance: (ms: number) => (now += ms),
    hold: () => (hold = true),
    release: () => release?.(),
  };
}

describe("LeaseManager", () => {
  it("shares one lease among the writes of one reuse window, granted with the extra life", async () => {
    const { manager, grants, advance } = setup();
    // ttl 1h: reuse min(5 % of 3600 s, 60 s) = 60 s.
    expect(await manager.getLease(3600)).toBe(1n);
    advance(30_000);
    expect(await manager.getLease(3600)).toBe(1n);
    advance(29_000);
    expect(await manager.getLease(3600)).toBe(1n);
    expect(grants).toEqual([3660]);
    // Past the window the old lease would expire too soon: a new one.
    advance(2_000);
    expect(await manager.getLease(3600)).toBe(2n);
    expect(grants).toEqual([3660, 3660]);
  });

  it("grants per write when the ttl is too short to have a reuse window", async () => {
    const { manager, grants } = setup();
    // 5 % of 10 s rounds down to 0: every key gets exactly its ttl.
    expect(await manager.getLease(10)).toBe(1n);
    expect(await manager.getLease(10)).toBe(2n);
    expect(grants).toEqual([10, 10]);
  });

  it("starts a new lease after maxObjectCount writes", async () => {
    const { manager } = setup({ maxObjectCount: 2 });
    expect([
      await manager.getLease(3600),
      await manager.getLease(3600),
      await manager.getLease(3600),
    ]).toEqual([1n, 1n, 2n]);
  });

  it("makes concurrent writes wait for one grant instead of each granting", async () => {
    const { manager, grants, hold, release } = setup();
    hold();
    const all = Promise.all([manager.getLease(3600), manager.getLease(3600), manager.getLease(3600)]);
    await new Promise((r) => setTimeout(r, 10));
    release();
    expect(await all).toEqual([1n, 1n, 1n]);
    expect(grants).toEqual([3660]);
  });
});
