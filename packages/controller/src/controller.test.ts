import { describe, expect, it } from "vitest";
import { FakeClock, flush } from "./clock.js";
import { Controller } from "./controller.js";
import { ItemExponentialFailureRateLimiter } from "./rate-limiter.js";
import { WorkQueue } from "./workqueue.js";

describe("Controller", () => {
  it("retries a failing key with backoff, then forgets it on success", async () => {
    const clock = new FakeClock();
    const calls: number[] = [];
    let failures = 2;
    const c = new Controller({
      name: "test",
      clock,
      queue: new WorkQueue<string>(clock, new ItemExponentialFailureRateLimiter(100, 10_000)),
      reconcile: async () => {
        calls.push(clock.now());
        if (failures-- > 0) throw new Error("not yet");
      },
    });
    const ac = new AbortController();
    const done = c.run(ac.signal);
    c.enqueue("ns/a");
    await flush();
    await clock.step(100);
    await clock.step(200);
    expect(calls).toEqual([0, 100, 300]);
    await clock.step(10_000);
    expect(calls.length).toBe(3);
    ac.abort();
    await done;
  });

  it("comes back after requeueAfterMs", async () => {
    const clock = new FakeClock();
    const calls: number[] = [];
    const c = new Controller({
      name: "test",
      clock,
      reconcile: async () => {
        calls.push(clock.now());
        return calls.length < 3 ? { requeueAfterMs: 1000 } : undefined;
      },
    });
    const ac = new AbortController();
    const done = c.run(ac.signal);
    c.enqueue("k");
    await clock.step(5000);
    expect(calls).toEqual([0, 1000, 2000]);
    ac.abort();
    await done;
  });

  it("reconciles a key once even when it is enqueued many times during a burst", async () => {
    const clock = new FakeClock();
    let running = 0;
    let maxRunning = 0;
    let count = 0;
    const c = new Controller({
      name: "burst",
      clock,
      workers: 4,
      reconcile: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        count++;
        await new Promise((r) => setTimeout(r, 5));
        running--;
      },
    });
    const ac = new AbortController();
    const done = c.run(ac.signal);
    for (let i = 0; i < 50; i++) c.enqueue("same");
    await new Promise((r) => setTimeout(r, 50));
    expect(maxRunning).toBe(1);
    expect(count).toBeLessThanOrEqual(2);
    ac.abort();
    await done;
  });
});
