import { FakeClock } from "@tskube/controller";
import { describe, expect, it } from "vitest";
import { SyncRunner } from "./sync-runner.js";

function setup(syncMs = 0) {
  const clock = new FakeClock(10_000);
  const starts: number[] = [];
  const runner = new SyncRunner(
    async () => {
      starts.push(clock.now());
      if (syncMs) await new Promise<void>((r) => clock.setTimeout(r, syncMs));
    },
    { minIntervalMs: 500, maxIntervalMs: 30_000, burstDelayMs: 50, clock },
  );
  return { clock, starts, runner };
}

describe("SyncRunner", () => {
  it("turns a burst of requests into one sync after the burst delay", async () => {
    const { clock, starts, runner } = setup();
    runner.start();
    for (let i = 0; i < 100; i++) runner.run();
    await clock.step(49);
    expect(starts).toEqual([]);
    await clock.step(1);
    expect(starts).toEqual([10_050]);
    await clock.step(5_000);
    expect(starts).toEqual([10_050]);
  });

  it("keeps syncs min sync period apart, and a request right after a sync waits only for it", async () => {
    const { clock, starts, runner } = setup();
    runner.start();
    runner.run();
    await clock.step(50);
    runner.run();
    runner.run();
    await clock.step(499);
    expect(starts).toEqual([10_050]);
    await clock.step(1);
    expect(starts).toEqual([10_050, 10_550]);
  });

  it("never overlaps syncs: a request during a sync runs once after it", async () => {
    const { clock, starts, runner } = setup(800);
    runner.run();
    await clock.step(50);
    runner.run();
    runner.run();
    await clock.step(799);
    expect(starts).toEqual([10_050]);
    await clock.step(1);
    // The sync took longer than the min period, so the queued request only waits the burst delay.
    await clock.step(50);
    expect(starts).toEqual([10_050, 10_900]);
  });

  it("syncs every sync period without requests and stops when told", async () => {
    const { clock, starts, runner } = setup();
    runner.start();
    await clock.step(60_000);
    expect(starts).toEqual([40_000, 70_000]);
    runner.stop();
    runner.run();
    await clock.step(60_000);
    expect(starts).toEqual([40_000, 70_000]);
  });
});
