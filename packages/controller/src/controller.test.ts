import { Pod } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { FakeClock, flush } from "./clock.js";
import { Controller } from "./controller.js";
import { ItemExponentialFailureRateLimiter } from "./rate-limiter.js";
import { isTerminalError, TerminalError } from "./terminal-error.js";
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

  it("never reconciles one key twice at once, and collapses a burst into one more pass", async () => {
    const clock = new FakeClock();
    const calls: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const release: (() => void)[] = [];
    const c = new Controller({
      name: "burst",
      clock,
      workers: 4,
      reconcile: async (key) => {
        calls.push(key);
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise<void>((r) => release.push(r));
        running--;
      },
    });
    const ac = new AbortController();
    const done = c.run(ac.signal);
    c.enqueue("same");
    await flush();
    // 50 more while the first pass runs: one more pass after it, never two at once.
    for (let i = 0; i < 50; i++) c.enqueue("same");
    c.enqueue("other");
    await flush();
    expect(calls).toEqual(["same", "other"]);
    release.shift()!();
    release.shift()!();
    await flush();
    expect(calls).toEqual(["same", "other", "same"]);
    release.shift()!();
    await flush();
    expect(calls.length).toBe(3);
    expect(maxRunning).toBe(2);
    ac.abort();
    await done;
  });

  it("stops on abort: the key in hand finishes (its signal aborted), queued keys are dropped", async () => {
    const clock = new FakeClock();
    let seenSignal: AbortSignal | undefined;
    let finish!: () => void;
    const keys: string[] = [];
    const c = new Controller({
      name: "stop",
      clock,
      workers: 1,
      reconcile: async (key, { signal }) => {
        keys.push(key);
        seenSignal = signal;
        await new Promise<void>((r) => {
          finish = r;
        });
      },
    });
    const ac = new AbortController();
    let stopped = false;
    const done = c.run(ac.signal).then(() => {
      stopped = true;
    });
    c.enqueue("k");
    await flush();
    c.enqueue("queued");
    ac.abort();
    await flush();
    expect(seenSignal?.aborted).toBe(true);
    expect(stopped).toBe(false);
    finish();
    await done;
    expect(keys).toEqual(["k"]);
    c.enqueue("late");
    expect(c.queueLength()).toBe(0);
  });

  it("enqueues objects, and the controlling owner of a kind only", async () => {
    const clock = new FakeClock();
    const keys: string[] = [];
    const c = new Controller({
      name: "owners",
      clock,
      reconcile: async (key) => {
        keys.push(key);
      },
    });
    const pod = Pod.fromPartial({
      metadata: {
        name: "web-abc",
        namespace: "prod",
        ownerReferences: [
          { kind: "Node", name: "n1", uid: "1" },
          { kind: "ReplicaSet", name: "web", uid: "2", controller: true },
        ],
      },
    });
    expect(c.enqueueOwner(pod, "ReplicaSet")).toBe(true);
    expect(c.enqueueOwner(pod, "Node")).toBe(false); // not the controller
    expect(c.enqueueOwner(pod, "StatefulSet")).toBe(false);
    const h = c.handlers<Pod>();
    h.onUpdate?.(pod, pod);
    h.onDelete?.(Pod.fromPartial({ metadata: { name: "gone", namespace: "prod" } }));
    const ac = new AbortController();
    const done = c.run(ac.signal);
    await flush();
    expect(keys).toEqual(["prod/web", "prod/web-abc", "prod/gone"]);
    ac.abort();
    await done;
  });

  it("returns at once when run with a signal that is already aborted", async () => {
    const keys: string[] = [];
    const c = new Controller({
      name: "late",
      clock: new FakeClock(),
      workers: 2,
      reconcile: async (key) => {
        keys.push(key);
      },
    });
    c.enqueue("k");
    const ac = new AbortController();
    ac.abort();
    let stopped = false;
    const done = c.run(ac.signal).then(() => {
      stopped = true;
    });
    await flush();
    expect(stopped).toBe(true);
    expect(keys).toEqual([]);
    await done;
  });

  it("forgets a key whose reconcile failed with a terminal error, also one wrapped as a cause", async () => {
    const clock = new FakeClock();
    const calls: string[] = [];
    const c = new Controller({
      name: "terminal",
      clock,
      queue: new WorkQueue<string>(clock, new ItemExponentialFailureRateLimiter(100, 10_000)),
      reconcile: async (key) => {
        calls.push(key);
        if (key === "bad") throw new TerminalError("spec.image: Required value");
        if (key === "wrapped") throw new Error("sync failed", { cause: new TerminalError(new Error("no")) });
        if (calls.filter((k) => k === key).length < 3) throw new Error("not yet");
      },
    });
    const ac = new AbortController();
    const done = c.run(ac.signal);
    for (const key of ["bad", "wrapped", "flaky"]) c.enqueue(key);
    await clock.step(60_000);
    expect(calls.filter((k) => k === "bad")).toEqual(["bad"]);
    expect(calls.filter((k) => k === "wrapped")).toEqual(["wrapped"]);
    expect(calls.filter((k) => k === "flaky").length).toBe(3);
    // A terminal key still comes back when something changes it.
    c.enqueue("bad");
    await flush();
    expect(calls.filter((k) => k === "bad").length).toBe(2);
    expect(isTerminalError(new Error("plain"))).toBe(false);
    ac.abort();
    await done;
  });
});
