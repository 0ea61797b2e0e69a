import { parseDuration, timingFlags } from "@tskube/machinery";
import { NODE_LIFECYCLE_DEFAULTS, type NodeLifecycleOptions } from "./node-lifecycle-controller.js";

const d = NODE_LIFECYCLE_DEFAULTS;
/** The recovery timers among these flags live in the timing table (Kubernetes' values as defaults). */
const timing = timingFlags("controller-manager");

/**
 * kube-controller-manager's node lifecycle flags, each with a TSKUBE_* environment variable.
 * --timing-profile moves the timers' defaults (see withTimingProfile).
 */
export const NODE_LIFECYCLE_FLAGS = {
  "node-monitor-period": timing["node-monitor-period"],
  "node-monitor-grace-period": timing["node-monitor-grace-period"],
  "node-startup-grace-period": timing["node-startup-grace-period"],
  "node-eviction-rate": timing["node-eviction-rate"],
  "secondary-node-eviction-rate": timing["secondary-node-eviction-rate"],
  "unhealthy-zone-threshold": {
    env: "TSKUBE_UNHEALTHY_ZONE_THRESHOLD",
    default: String(d.unhealthyZoneThreshold),
  },
  "large-cluster-size-threshold": {
    env: "TSKUBE_LARGE_CLUSTER_SIZE_THRESHOLD",
    default: String(d.largeClusterSizeThreshold),
  },
} as const;

type Flag = keyof typeof NODE_LIFECYCLE_FLAGS;

function duration(flags: Record<Flag, string>, name: Flag): number {
  const v = flags[name];
  let ms: number;
  try {
    ms = parseDuration(v);
  } catch {
    throw new Error(`--${name}: Invalid value: "${v}": must be a duration such as 5s or 1m`);
  }
  if (ms <= 0) throw new Error(`--${name}: Invalid value: "${v}": must be greater than 0`);
  return ms;
}

function number(flags: Record<Flag, string>, name: Flag, max = Number.POSITIVE_INFINITY): number {
  const v = flags[name];
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0 || n > max)
    throw new Error(
      `--${name}: Invalid value: "${v}": must be a number between 0 and ${max === Number.POSITIVE_INFINITY ? "∞" : max}`,
    );
  return n;
}

/** Reads the node lifecycle flags; throws with the flag's name on a bad value. */
export function nodeLifecycleOptions(flags: Record<Flag, string>): NodeLifecycleOptions {
  const monitor = duration(flags, "node-monitor-period");
  const grace = duration(flags, "node-monitor-grace-period");
  if (grace <= monitor)
    throw new Error(
      `--node-monitor-grace-period: Invalid value: "${flags["node-monitor-grace-period"]}": must be greater than --node-monitor-period (${flags["node-monitor-period"]})`,
    );
  const size = number(flags, "large-cluster-size-threshold");
  if (!Number.isInteger(size))
    throw new Error(
      `--large-cluster-size-threshold: Invalid value: "${flags["large-cluster-size-threshold"]}": must be an integer`,
    );
  return {
    nodeMonitorPeriodMs: monitor,
    nodeMonitorGracePeriodMs: grace,
    nodeStartupGracePeriodMs: duration(flags, "node-startup-grace-period"),
    nodeEvictionRate: number(flags, "node-eviction-rate"),
    secondaryNodeEvictionRate: number(flags, "secondary-node-eviction-rate"),
    unhealthyZoneThreshold: number(flags, "unhealthy-zone-threshold", 1),
    largeClusterSizeThreshold: size,
  };
}
