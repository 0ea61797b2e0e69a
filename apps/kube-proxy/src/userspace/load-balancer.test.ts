import { FakeClock } from "@tskube/controller";
import { describe, expect, it } from "vitest";
import { RoundRobin } from "./load-balancer.js";

describe("RoundRobin", () => {
  it("rotates over the endpoints and skips those that already failed", () => {
    const lb = new RoundRobin();
    lb.update(["a:1", "b:1", "c:1"], 0);
    expect([1, 2, 3, 4].map(() => lb.next("10.0.0.1"))).toEqual(["a:1", "b:1", "c:1", "a:1"]);
    expect(lb.next("10.0.0.1", new Set(["b:1"]))).toBe("c:1");
    expect(lb.next("10.0.0.1", new Set(["a:1", "b:1", "c:1"]))).toBeUndefined();
  });

  it("returns nothing without endpoints, and restarts the rotation when they change", () => {
    const lb = new RoundRobin();
    expect(lb.next("x")).toBeUndefined();
    lb.update(["a:1", "b:1"], 0);
    lb.next("x");
    lb.update(["b:1", "c:1"], 0);
    expect(lb.next("x")).toBe("b:1");
  });

  it("keeps a client on its endpoint until idle for the affinity timeout or the endpoint goes", async () => {
    const clock = new FakeClock();
    const lb = new RoundRobin(0, clock);
    lb.update(["a:1", "b:1", "c:1"], 10);
    const first = lb.next("10.0.0.1");
    expect(lb.next("10.0.0.2")).not.toBe(first);
    await clock.step(9_000);
    expect(lb.next("10.0.0.1")).toBe(first);
    await clock.step(9_000);
    expect(lb.next("10.0.0.1")).toBe(first);
    await clock.step(10_000);
    const afterTimeout = lb.next("10.0.0.1");
    expect(lb.next("10.0.0.1")).toBe(afterTimeout);
    lb.update(
      ["a:1", "b:1", "c:1"].filter((e) => e !== afterTimeout),
      10,
    );
    expect(lb.next("10.0.0.1")).not.toBe(afterTimeout);
    // A failed dial drops the affinity so the retry may go elsewhere.
    const pinned = lb.next("10.0.0.3")!;
    expect(lb.next("10.0.0.3", new Set([pinned]))).not.toBe(pinned);
  });
});
