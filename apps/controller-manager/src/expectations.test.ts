import { FakeClock } from "@tskube/controller";
import { describe, expect, it } from "vitest";
import { ControllerExpectations, EXPECTATIONS_TIMEOUT_MS } from "./expectations.js";

describe("ControllerExpectations", () => {
  it("is satisfied without a record, and once every expected creation was observed", () => {
    const e = new ControllerExpectations(new FakeClock());
    expect(e.satisfied("ns/rs")).toBe(true);
    e.expectCreations("ns/rs", 2);
    expect(e.satisfied("ns/rs")).toBe(false);
    e.creationObserved("ns/rs");
    expect(e.satisfied("ns/rs")).toBe(false);
    e.creationObserved("ns/rs");
    expect(e.satisfied("ns/rs")).toBe(true);
  });

  it("counts a pod's deletion once even when it is seen twice (graceful deletion)", () => {
    const e = new ControllerExpectations(new FakeClock());
    e.expectDeletions("ns/rs", ["ns/a", "ns/b"]);
    e.deletionObserved("ns/rs", "ns/a");
    e.deletionObserved("ns/rs", "ns/a");
    e.deletionObserved("ns/rs", "ns/other");
    expect(e.pending("ns/rs")).toEqual({ add: 0, del: 1 });
    expect(e.satisfied("ns/rs")).toBe(false);
    e.deletionObserved("ns/rs", "ns/b");
    expect(e.satisfied("ns/rs")).toBe(true);
  });

  it("gives up on expectations older than the timeout, so a lost event cannot stall a controller", async () => {
    const clock = new FakeClock();
    const e = new ControllerExpectations(clock);
    e.expectCreations("ns/rs", 1);
    await clock.step(EXPECTATIONS_TIMEOUT_MS);
    expect(e.satisfied("ns/rs")).toBe(false);
    await clock.step(1);
    expect(e.satisfied("ns/rs")).toBe(true);
  });
});
