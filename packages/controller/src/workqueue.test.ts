import { describe, expect, it } from "vitest";
import { FakeClock, flush } from "./clock.js";
import { BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter } from "./rate-limiter.js";
import { WorkQueue } from "./workqueue.js";

describe("WorkQueue", () => {
  it("collapses bursts and never hands one key to two workers", async () => {
    const q = new WorkQueue<string>(new FakeClock());
    q.add("a");
    q.add("a");
    q.add("b");
    expect(q.len()).toBe(2);
    const first = await q.get();
    expect(first).toBe("a");
    q.add("a"); // while processing: must wait for done()
    expect(await q.get()).toBe("b");
    let third: string | undefined;
    void q.get().then((k) => {
      third = k;
    });
    await flush();
    expect(third).toBeUndefined();
    q.done("a");
    await flush();
    expect(third).toBe("a");
  });

  it("delays addAfter and addRateLimited on the clock", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>(clock, new ItemExponentialFailureRateLimiter(100, 10_000));
    q.addRateLimited("x"); // 100 ms
    q.addAfter("y", 50);
    expect(q.len()).toBe(0);
    await clock.step(50);
    expect(q.len()).toBe(1);
    await clock.step(50);
    expect(q.len()).toBe(2);
    expect(q.numRequeues("x")).toBe(1);
    q.forget("x");
    expect(q.numRequeues("x")).toBe(0);
  });

  it("wakes waiting workers with undefined on shutdown", async () => {
    const q = new WorkQueue<string>(new FakeClock());
    const p = q.get();
    q.shutDown();
    expect(await p).toBeUndefined();
    q.add("late");
    expect(q.len()).toBe(0);
  });
});

describe("rate limiters", () => {
  it("backs off exponentially per item up to the cap", () => {
    const r = new ItemExponentialFailureRateLimiter<string>(5, 1000);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map(() => r.when("k"))).toEqual([
      5, 10, 20, 40, 80, 160, 320, 640, 1000,
    ]);
    expect(r.when("other")).toBe(5);
  });

  it("limits the overall rate with a token bucket", async () => {
    const clock = new FakeClock();
    const r = new BucketRateLimiter(clock, 10, 2);
    expect(r.when()).toBe(0);
    expect(r.when()).toBe(0);
    expect(r.when()).toBe(100);
    await clock.step(1000);
    expect(r.when()).toBe(0);
  });

  it("takes the longest delay of its limiters", () => {
    const r = new MaxOfRateLimiter<string>([
      new ItemExponentialFailureRateLimiter(5, 1000),
      new ItemExponentialFailureRateLimiter(50, 1000),
    ]);
    expect(r.when("a")).toBe(50);
    expect(r.numRequeues("a")).toBe(1);
  });
});
