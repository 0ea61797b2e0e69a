import type { Lease } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { FakeClock, flush } from "./clock.js";
import { FakeResourceClient } from "./fake-client.test-helper.js";
import { LeaderElector } from "./leader-elector.js";

function candidate(leases: FakeResourceClient<Lease>, clock: FakeClock, identity: string, log: string[]) {
  return new LeaderElector({
    leases,
    name: "kube-controller-manager",
    identity,
    clock,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    onStartedLeading: (signal) => {
      log.push(`${identity} leads at ${clock.now()}`);
      return new Promise<void>((r) => signal.addEventListener("abort", () => r()));
    },
    onStoppedLeading: () => log.push(`${identity} stopped at ${clock.now()}`),
  });
}

describe("LeaderElector", () => {
  it("lets exactly one candidate lead and hands over within leaseDuration + retryPeriod when it dies", async () => {
    const clock = new FakeClock(1_000_000);
    const leases = new FakeResourceClient<Lease>("Lease");
    const log: string[] = [];
    const a = candidate(leases, clock, "a", log);
    const b = candidate(leases, clock, "b", log);
    const aStop = new AbortController();
    const bStop = new AbortController();
    const aRun = a.run(aStop.signal);
    await flush();
    const bRun = b.run(bStop.signal);
    await clock.step(30_000);
    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);
    expect(log).toEqual(["a leads at 1000000"]);

    // "a" crashes: it stops renewing without releasing. Simulate by making its writes vanish.
    const crashedAt = clock.now();
    const realUpdate = leases.update.bind(leases);
    leases.update = async (lease: Lease) => {
      if (lease.spec?.holderIdentity === "a") throw new Error("a is dead");
      return realUpdate(lease);
    };
    await clock.step(20_000);
    expect(b.isLeader()).toBe(true);
    const took = Number(log.find((l) => l.startsWith("b leads"))!.split(" at ")[1]) - crashedAt;
    expect(took).toBeLessThanOrEqual(15_000 + 2_000);
    expect(a.isLeader()).toBe(false);
    const lease = await leases.get("kube-controller-manager", { namespace: "kube-system" });
    expect(lease.spec?.holderIdentity).toBe("b");
    expect(lease.spec?.leaseTransitions).toBe(1);
    aStop.abort();
    bStop.abort();
    await Promise.all([aRun, bRun]);
  });

  it("releases the lease on a clean stop so the standby takes over at once", async () => {
    const clock = new FakeClock(0);
    const leases = new FakeResourceClient<Lease>("Lease");
    const log: string[] = [];
    const a = candidate(leases, clock, "a", log);
    const b = candidate(leases, clock, "b", log);
    const aStop = new AbortController();
    const bStop = new AbortController();
    const aRun = a.run(aStop.signal);
    await flush();
    const bRun = b.run(bStop.signal);
    await clock.step(4_000);
    aStop.abort();
    await aRun;
    const stoppedAt = clock.now();
    await clock.step(2_000);
    expect(b.isLeader()).toBe(true);
    const took = Number(log.find((l) => l.startsWith("b leads"))!.split(" at ")[1]) - stoppedAt;
    expect(took).toBeLessThanOrEqual(2_000);
    bStop.abort();
    await bRun;
  });
});
