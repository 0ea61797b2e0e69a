import { withTimingProfile } from "@tskube/machinery";
import { describe, expect, it } from "vitest";
import { NODE_LIFECYCLE_FLAGS, nodeLifecycleOptions } from "./flags.js";
import { NODE_LIFECYCLE_DEFAULTS } from "./node-lifecycle-controller.js";

const defaults = () =>
  Object.fromEntries(Object.entries(NODE_LIFECYCLE_FLAGS).map(([k, v]) => [k, v.default])) as Record<
    keyof typeof NODE_LIFECYCLE_FLAGS,
    string
  >;

describe("node lifecycle flags", () => {
  it("default to kube-controller-manager's values", () => {
    expect(defaults()).toMatchObject({
      "node-monitor-period": "5s",
      "node-monitor-grace-period": "50s",
      "node-startup-grace-period": "1m",
      "node-eviction-rate": "0.1",
      "secondary-node-eviction-rate": "0.01",
      "unhealthy-zone-threshold": "0.55",
      "large-cluster-size-threshold": "50",
    });
    expect(nodeLifecycleOptions(defaults())).toEqual({
      nodeMonitorPeriodMs: 5_000,
      nodeMonitorGracePeriodMs: 50_000,
      nodeStartupGracePeriodMs: 60_000,
      nodeEvictionRate: 0.1,
      secondaryNodeEvictionRate: 0.01,
      unhealthyZoneThreshold: 0.55,
      largeClusterSizeThreshold: 50,
    });
  });

  it("are the controller's own defaults upstream and the fast profile's with --timing-profile=fast", () => {
    expect(nodeLifecycleOptions(defaults())).toEqual(NODE_LIFECYCLE_DEFAULTS);
    const { spec } = withTimingProfile(
      "controller-manager",
      NODE_LIFECYCLE_FLAGS,
      ["--timing-profile=fast"],
      {},
    );
    const fast = Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, v.default])) as Record<
      keyof typeof NODE_LIFECYCLE_FLAGS,
      string
    >;
    expect(nodeLifecycleOptions(fast)).toEqual({
      nodeMonitorPeriodMs: 1_000,
      nodeMonitorGracePeriodMs: 5_000,
      nodeStartupGracePeriodMs: 20_000,
      nodeEvictionRate: 1,
      secondaryNodeEvictionRate: 0.1,
      unhealthyZoneThreshold: 0.55,
      largeClusterSizeThreshold: 50,
    });
  });

  it("reject bad values naming the flag", () => {
    const bad = (name: keyof typeof NODE_LIFECYCLE_FLAGS, value: string) => () =>
      nodeLifecycleOptions({ ...defaults(), [name]: value });
    expect(bad("node-monitor-period", "soon")).toThrow(
      '--node-monitor-period: Invalid value: "soon": must be a duration such as 5s or 1m',
    );
    expect(bad("node-monitor-grace-period", "3s")).toThrow(
      '--node-monitor-grace-period: Invalid value: "3s": must be greater than --node-monitor-period (5s)',
    );
    expect(bad("node-eviction-rate", "-1")).toThrow(
      '--node-eviction-rate: Invalid value: "-1": must be a number',
    );
    expect(bad("unhealthy-zone-threshold", "1.5")).toThrow(
      '--unhealthy-zone-threshold: Invalid value: "1.5": must be a number between 0 and 1',
    );
    expect(bad("large-cluster-size-threshold", "2.5")).toThrow(
      '--large-cluster-size-threshold: Invalid value: "2.5": must be an integer',
    );
  });
});
