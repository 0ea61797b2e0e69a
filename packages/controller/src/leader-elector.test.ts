import { Lease } from "@tskube/api";
import { errors } from "@tskube/machinery";
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

  it("steps down by renewDeadline when renewals hang, instead of leading on a lease it may have lost", async () => {
    const clock = new FakeClock(0);
    const leases = new FakeResourceClient<Lease>("Lease");
    const log: string[] = [];
    const a = candidate(leases, clock, "a", log);
    const stop = new AbortController();
    let finished = false;
    const run = a.run(stop.signal).then(() => {
      finished = true;
    });
    await clock.step(4_000);
    expect(a.isLeader()).toBe(true);
    const held = await leases.get("kube-controller-manager", { namespace: "kube-system" });
    expect(held.spec?.acquireTime).toBe("1970-01-01T00:00:00.000000Z");
    expect(held.spec?.renewTime).toBe("1970-01-01T00:00:04.000000Z");
    expect(held.spec?.leaseTransitions).toBe(0);
    // The apiserver stops answering: reads hang (the last renewal was at 4 s).
    leases.get = () => new Promise<Lease>(() => {});
    await clock.step(9_999);
    expect(a.isLeader()).toBe(true);
    await clock.step(1);
    expect(a.isLeader()).toBe(false);
    expect(log).toEqual(["a leads at 0", "a stopped at 14000"]);
    expect(finished).toBe(true);
    await run;
  });

  it("keeps campaigning through apiserver errors", async () => {
    const clock = new FakeClock(0);
    const leases = new FakeResourceClient<Lease>("Lease");
    const log: string[] = [];
    const realGet = leases.get.bind(leases);
    let failures = 3;
    leases.get = (name, opts) =>
      failures-- > 0 ? Promise.reject(errors.serviceUnavailable("connection refused")) : realGet(name, opts);
    const a = candidate(leases, clock, "a", log);
    const stop = new AbortController();
    const run = a.run(stop.signal);
    await clock.step(10_000);
    expect(log).toEqual(["a leads at 6000"]);
    stop.abort();
    await run;
  });

  it("lets exactly one of two simultaneous candidates win, and both learn who", async () => {
    const clock = new FakeClock(0);
    const leases = new FakeResourceClient<Lease>("Lease");
    const seen: string[] = [];
    const make = (identity: string) =>
      new LeaderElector({
        leases,
        name: "sched",
        identity,
        clock,
        onStartedLeading: (signal) => new Promise<void>((r) => signal.addEventListener("abort", () => r())),
        onNewLeader: (leader) => seen.push(`${identity} sees ${leader}`),
      });
    const a = make("a");
    const b = make("b");
    const stop = new AbortController();
    const runs = [a.run(stop.signal), b.run(stop.signal)];
    await clock.step(6_000);
    expect([a.isLeader(), b.isLeader()].filter(Boolean).length).toBe(1);
    const winner = a.isLeader() ? "a" : "b";
    expect(seen.sort()).toEqual([`a sees ${winner}`, `b sees ${winner}`]);
    stop.abort();
    await Promise.all(runs);
  });

  it("honours the holder's leaseDurationSeconds rather than its own", async () => {
    const clock = new FakeClock(0);
    const leases = new FakeResourceClient<Lease>("Lease");
    await leases.create(
      Lease.fromPartial({
        metadata: { name: "kube-controller-manager", namespace: "kube-system" },
        spec: { holderIdentity: "x", leaseDurationSeconds: 60, leaseTransitions: 4 },
      }),
    );
    const log: string[] = [];
    const b = candidate(leases, clock, "b", log);
    const stop = new AbortController();
    const run = b.run(stop.signal);
    await clock.step(58_000);
    expect(b.isLeader()).toBe(false);
    await clock.step(4_000);
    expect(log).toEqual(["b leads at 60000"]);
    const lease = await leases.get("kube-controller-manager", { namespace: "kube-system" });
    expect(lease.spec?.holderIdentity).toBe("b");
    expect(lease.spec?.leaseDurationSeconds).toBe(15);
    expect(lease.spec?.leaseTransitions).toBe(5);
    stop.abort();
    await run;
  });

  it("writes its annotations on the Lease it takes, keeping the Lease's others", async () => {
    const clock = new FakeClock(0);
    const leases = new FakeResourceClient<Lease>("Lease");
    await leases.create(
      Lease.fromPartial({
        metadata: {
          name: "kube-controller-manager",
          namespace: "kube-system",
          annotations: { "tskube.io/timing-profile": "upstream", other: "kept" },
        },
        spec: { holderIdentity: "x", leaseDurationSeconds: 4, leaseTransitions: 0 },
      }),
    );
    const b = new LeaderElector({
      leases,
      name: "kube-controller-manager",
      identity: "b",
      clock,
      annotations: { "tskube.io/timing-profile": "fast" },
      onStartedLeading: (signal) => new Promise<void>((r) => signal.addEventListener("abort", () => r())),
    });
    const stop = new AbortController();
    const run = b.run(stop.signal);
    await clock.step(2_000);
    const before = await leases.get("kube-controller-manager", { namespace: "kube-system" });
    expect(before.metadata?.annotations["tskube.io/timing-profile"]).toBe("upstream");
    await clock.step(6_000);
    expect(b.isLeader()).toBe(true);
    const lease = await leases.get("kube-controller-manager", { namespace: "kube-system" });
    expect(lease.metadata?.annotations).toEqual({ "tskube.io/timing-profile": "fast", other: "kept" });
    stop.abort();
    await run;
  });

  it("stops campaigning at once when its signal aborts during a read that hangs", async () => {
    const clock = new FakeClock(0);
    const leases = new FakeResourceClient<Lease>("Lease");
    // An apiserver that never answers: only the caller's signal ends the call.
    leases.get = (_name, opts) =>
      new Promise<Lease>((_, reject) =>
        opts?.signal?.addEventListener("abort", () => reject(opts.signal?.reason), { once: true }),
      );
    const log: string[] = [];
    const a = candidate(leases, clock, "a", log);
    const stop = new AbortController();
    let finished = false;
    const run = a.run(stop.signal).then(() => {
      finished = true;
    });
    await flush();
    stop.abort();
    await flush();
    expect(finished).toBe(true);
    expect(log).toEqual([]);
    await run;
  });
});
