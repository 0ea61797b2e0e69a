import { describe, expect, it } from "vitest";
import {
  leaderDeathWorstCase,
  nodeDeathWorstCase,
  parseTimingProfile,
  profileLookup,
  selectedTimingProfile,
  TIMING_PROFILES,
  TIMINGS,
  type TimingProfile,
  timingFlags,
  timingNumber,
  timingRecord,
  withTimingProfile,
} from "./timing.js";

const value = (profile: TimingProfile, component: string, flag: string) => {
  const t = TIMINGS.find((x) => x.component === component && x.flag === flag);
  if (!t) throw new Error(`no ${component} --${flag}`);
  return timingNumber(t, profile === "fast" ? t.fast : t.upstream);
};

describe("timing table", () => {
  it("names each timer once per component, with its TSKUBE_* variable and valid values", () => {
    const keys = TIMINGS.map((t) => `${t.component} ${t.flag}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const t of TIMINGS) {
      expect(t.env).toBe(`TSKUBE_${t.flag.toUpperCase().replaceAll("-", "_")}`);
      expect(() => timingNumber(t, t.upstream)).not.toThrow();
      expect(() => timingNumber(t, t.fast)).not.toThrow();
    }
  });

  it("holds Kubernetes' upstream defaults", () => {
    expect(value("upstream", "kubelet", "node-lease-renew-interval")).toBe(10_000);
    expect(value("upstream", "kubelet", "node-lease-duration-seconds")).toBe(40_000);
    expect(value("upstream", "controller-manager", "node-monitor-grace-period")).toBe(50_000);
    expect(value("upstream", "controller-manager", "node-monitor-period")).toBe(5_000);
    expect(value("upstream", "controller-manager", "node-eviction-rate")).toBe(0.1);
    expect(value("upstream", "apiserver", "default-unreachable-toleration-seconds")).toBe(300_000);
    expect(value("upstream", "scheduler", "leader-elect-lease-duration")).toBe(15_000);
    expect(value("upstream", "kubelet", "crash-loop-backoff-max")).toBe(300_000);
    expect(value("upstream", "apiserver", "default-probe-period-seconds")).toBe(10_000);
  });

  for (const profile of TIMING_PROFILES) {
    it(`keeps the timers' relations in the ${profile} profile`, () => {
      const v = (c: string, f: string) => value(profile, c, f);
      const renew = v("kubelet", "node-lease-renew-interval");
      // renewIntervalFraction 0.25: four renewals per lease duration.
      expect(v("kubelet", "node-lease-duration-seconds")).toBe(4 * renew);
      // Five missed heartbeats before a node is Unknown, as 50s over 10s upstream.
      const grace = v("controller-manager", "node-monitor-grace-period");
      expect(grace).toBe(5 * renew);
      expect(grace).toBeGreaterThanOrEqual(5 * v("kubelet", "node-status-update-frequency"));
      expect(grace).toBeGreaterThan(v("controller-manager", "node-monitor-period"));
      expect(v("controller-manager", "node-startup-grace-period")).toBeGreaterThan(grace);
      expect(v("controller-manager", "secondary-node-eviction-rate")).toBeLessThan(
        v("controller-manager", "node-eviction-rate"),
      );
      for (const c of ["scheduler", "controller-manager"]) {
        const lease = v(c, "leader-elect-lease-duration");
        const deadline = v(c, "leader-elect-renew-deadline");
        const retry = v(c, "leader-elect-retry-period");
        expect(lease).toBeGreaterThan(deadline);
        expect(deadline).toBeGreaterThan(retry);
        // A leader that gives up at its deadline is gone before a standby can take the Lease.
        expect(lease).toBeGreaterThanOrEqual(deadline + retry);
      }
      expect(v("kubelet", "crash-loop-backoff-reset")).toBe(2 * v("kubelet", "crash-loop-backoff-max"));
      expect(v("kubelet", "crash-loop-backoff-initial")).toBeLessThan(v("kubelet", "crash-loop-backoff-max"));
      expect(v("kubelet", "image-pull-backoff-initial")).toBeLessThan(v("kubelet", "image-pull-backoff-max"));
      expect(v("apiserver", "default-not-ready-toleration-seconds")).toBe(
        v("apiserver", "default-unreachable-toleration-seconds"),
      );
    });
  }

  it("the fast profile has a dead node's pods back within 15s and a standby leading within 4s", () => {
    const node = nodeDeathWorstCase(profileLookup("fast"));
    // 11.1 s of timers, leaving the rest of 15 s to creating, binding and starting the pod.
    expect(node.totalMs).toBe(5_000 + 1_000 + 100 + 3_000 + 2_000);
    expect(node.totalMs).toBeLessThanOrEqual(12_000);
    for (const c of ["scheduler", "controller-manager"] as const)
      expect(leaderDeathWorstCase(profileLookup("fast"), c).totalMs).toBe(500 + 3_000 + 500);
  });

  it("sums Kubernetes' defaults to six minutes for a dead node and 19s for a dead leader", () => {
    const node = nodeDeathWorstCase(profileLookup("upstream"));
    expect(node.steps.map((s) => s.ms)).toEqual([50_000, 5_000, 100, 300_000, 0, 10_000]);
    expect(node.totalMs).toBe(365_100);
    expect(leaderDeathWorstCase(profileLookup("upstream"), "scheduler").totalMs).toBe(2_000 + 15_000 + 2_000);
  });

  it("computes from the values it is given, not the profile", () => {
    const lookup = (c: Parameters<ReturnType<typeof profileLookup>>[0], f: string) =>
      c === "apiserver" && f === "default-unreachable-toleration-seconds"
        ? "60"
        : profileLookup("fast")(c, f);
    expect(nodeDeathWorstCase(lookup).totalMs).toBe(5_000 + 1_000 + 100 + 60_000 + 2_000);
  });
});

describe("--timing-profile", () => {
  it("takes upstream or fast and names the flag otherwise", () => {
    expect(parseTimingProfile("fast")).toBe("fast");
    expect(parseTimingProfile("upstream")).toBe("upstream");
    expect(() => parseTimingProfile("quick")).toThrow(
      '--timing-profile: Unsupported value: "quick": supported values: "fast", "upstream"',
    );
  });

  it("comes from the flag, then TSKUBE_TIMING_PROFILE, then upstream", () => {
    expect(selectedTimingProfile([], {})).toBe("upstream");
    expect(selectedTimingProfile([], { TSKUBE_TIMING_PROFILE: "fast" })).toBe("fast");
    expect(selectedTimingProfile(["--timing-profile", "upstream"], { TSKUBE_TIMING_PROFILE: "fast" })).toBe(
      "upstream",
    );
    expect(selectedTimingProfile(["--server", "x", "--timing-profile=fast"], {})).toBe("fast");
    expect(selectedTimingProfile(["--", "--timing-profile=fast"], {})).toBe("upstream");
    expect(() => selectedTimingProfile([], { TSKUBE_TIMING_PROFILE: "slow" })).toThrow(/--timing-profile/);
    expect(() => selectedTimingProfile(["--timing-profile"], {})).toThrow(/Unsupported value: ""/);
  });

  it("gives a component its timers with Kubernetes' defaults and the profile flag", () => {
    const flags = timingFlags("scheduler");
    expect(flags).toEqual({
      "timing-profile": { env: "TSKUBE_TIMING_PROFILE", default: "upstream" },
      "leader-elect-lease-duration": { env: "TSKUBE_LEADER_ELECT_LEASE_DURATION", default: "15s" },
      "leader-elect-renew-deadline": { env: "TSKUBE_LEADER_ELECT_RENEW_DEADLINE", default: "10s" },
      "leader-elect-retry-period": { env: "TSKUBE_LEADER_ELECT_RETRY_PERIOD", default: "2s" },
    });
  });

  it("moves only the timers' defaults to the profile", () => {
    const spec = { server: { env: "TSKUBE_SERVER", default: "127.0.0.1:6443" }, ...timingFlags("kubelet") };
    const { spec: fast, profile } = withTimingProfile("kubelet", spec, ["--timing-profile=fast"], {});
    expect(profile).toBe("fast");
    expect(fast.server).toEqual(spec.server);
    expect(fast["node-lease-renew-interval"]).toEqual({
      env: "TSKUBE_NODE_LEASE_RENEW_INTERVAL",
      default: "1s",
    });
    expect(fast["crash-loop-backoff-initial"].default).toBe("1s");
    expect(spec["node-lease-renew-interval"].default).toBe("10s");
    expect(withTimingProfile("kubelet", spec, [], {}).spec).toEqual(spec);
  });

  it("records a component's profile and the values it runs with", () => {
    const r = timingRecord("scheduler", "fast", {
      server: "x",
      "leader-elect-lease-duration": "6s",
      "leader-elect-renew-deadline": "3s",
      "leader-elect-retry-period": "1s",
    });
    expect(r).toEqual({
      profile: "fast",
      values: {
        "leader-elect-lease-duration": "6s",
        "leader-elect-renew-deadline": "3s",
        "leader-elect-retry-period": "1s",
      },
    });
  });
});
