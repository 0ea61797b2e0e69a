import { FakeClock, flush } from "@tskube/controller";
import { describe, expect, it } from "vitest";
import { SchedulingQueue } from "./queue.js";

describe("SchedulingQueue", () => {
  it("backs off failed pods from 1 s doubling to 10 s", async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue((a, b) => (a < b ? -1 : 1), { clock });
    q.add("p");
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      let got: string | undefined;
      void q.pop().then((k) => {
        got = k;
      });
      while (got === undefined) await clock.step(100);
      times.push(clock.now());
      q.done("p", "error");
    }
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps).toEqual([1000, 2000, 4000, 8000, 10000]);
    q.close();
  });

  it("keeps unschedulable pods until the cluster changes", async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue((a, b) => (a < b ? -1 : 1), { clock, unschedulableFlushMs: 60_000 });
    q.add("p");
    expect(await q.pop()).toBe("p");
    q.done("p", "unschedulable");
    let got: string | undefined;
    void q.pop().then((k) => {
      got = k;
    });
    await clock.step(5000);
    expect(got).toBeUndefined();
    q.moveAllToActiveOrBackoff();
    await clock.step(10);
    await flush();
    expect(got).toBe("p");
    q.close();
  });

  it("backs off instead of waiting when the cluster changed during the attempt", async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue((a, b) => (a < b ? -1 : 1), { clock, unschedulableFlushMs: 60_000 });
    q.add("p");
    expect(await q.pop()).toBe("p");
    // A node arrives while the filters run on the old snapshot.
    q.moveAllToActiveOrBackoff();
    q.done("p", "unschedulable");
    let got: string | undefined;
    void q.pop().then((k) => {
      got = k;
    });
    await clock.step(999);
    expect(got).toBeUndefined();
    await clock.step(1);
    await flush();
    expect(got).toBe("p");

    // The same when the pod itself changed during the attempt.
    q.add("p");
    q.done("p", "unschedulable");
    let again: string | undefined;
    void q.pop().then((k) => {
      again = k;
    });
    await clock.step(2000);
    await flush();
    expect(again).toBe("p");
    q.close();
  });
});
