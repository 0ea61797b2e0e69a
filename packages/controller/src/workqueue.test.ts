import { describe, expect, it } from "vitest";
import { FakeClock, flush } from "./clock.js";
import {
  BucketRateLimiter,
  defaultControllerRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
} from "./rate-limiter.js";
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

describe("WorkQueue details", () => {
  it("re-queues a key added during processing once, however often it was added", async () => {
    const q = new WorkQueue<string>(new FakeClock());
    q.add("a");
    expect(await q.get()).toBe("a");
    for (let i = 0; i < 10; i++) q.add("a");
    expect(q.len()).toBe(0);
    q.done("a");
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe("a");
    q.done("a");
    expect(q.len()).toBe(0);
  });

  it("keeps the earliest of several addAfter calls for one key", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>(clock);
    q.addAfter("k", 1000);
    q.addAfter("k", 300); // sooner: replaces
    q.addAfter("k", 5000); // later: ignored
    expect(clock.pending()).toBe(1);
    await clock.step(299);
    expect(q.len()).toBe(0);
    await clock.step(1);
    expect(q.len()).toBe(1);
    await clock.step(10_000);
    expect(q.len()).toBe(1);
  });

  it("hands out what is queued after shutDown, then undefined, and drops delayed adds", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>(clock);
    q.add("a");
    q.addAfter("later", 100);
    q.shutDown();
    expect(clock.pending()).toBe(0);
    expect(await q.get()).toBe("a");
    expect(await q.get()).toBeUndefined();
    expect(q.isShuttingDown).toBe(true);
  });
});

describe("rate limiters", () => {
  it("defaults to client-go's controller limiter: 5 ms per item, doubling, and a 10 qps bucket of 100", async () => {
    const clock = new FakeClock();
    const r = defaultControllerRateLimiter<string>(clock);
    expect([r.when("a"), r.when("a"), r.when("a")]).toEqual([5, 10, 20]);
    expect(r.numRequeues("a")).toBe(3);
    r.forget("a");
    expect(r.numRequeues("a")).toBe(0);
    // 3 tokens went to "a"; 97 more distinct items empty the bucket, then each waits 100 ms more.
    for (let i = 0; i < 97; i++) expect(r.when(`item-${i}`)).toBe(5);
    expect(r.when("x")).toBe(100);
    expect(r.when("y")).toBe(200);
    // A second refills 10 tokens: the debt of 2 is paid and the per-item delay rules again.
    await clock.step(1000);
    expect(r.when("z")).toBe(5);
  });

  it("backs off exponentially per item up to the cap", () => {
    const r = new ItemExponentialFailureRateLimiter<string>(5, 1000);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map(() => r.when("k"))).toEqual([
      5, 10, 20, 40, 80, 160, 320, 640, 1000,
    ]);
    expect(r.when("other")).toBe(5);
    // client-go's cap: 1000 s.
    const d = new ItemExponentialFailureRateLimiter<string>();
    let last = 0;
    for (let i = 0; i < 40; i++) last = d.when("k");
    expect(last).toBe(1_000_000);
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
