import { formatDuration, parseDuration } from "./duration.js";

/**
 * The timing profiles: `upstream` is Kubernetes' defaults, `fast` shortens every recovery timer
 * together so that recovery is seen in seconds (compose and `pnpm local-up` run it).
 *
 * The fast values keep Kubernetes' ratios between timers, so a profile never makes one timer
 * fire before another it depends on: the node Lease is renewed four times per lease duration
 * (kubelet's renewIntervalFraction 0.25) and five times per node-monitor-grace-period (50s over
 * 10s upstream); leader election keeps leaseDuration > renewDeadline > retryPeriod with
 * leaseDuration >= renewDeadline + retryPeriod; the crash-loop backoff resets after twice its
 * maximum. A node's death turns into pods running elsewhere within about 11 s of timers plus the
 * work of scheduling and starting them (`ktl explain timing` prints the sum); a leader's death
 * into a standby acting within 4 s (Kubernetes' 15s/10s/2s scaled to 3s/2s/500ms).
 */
export const TIMING_PROFILES = ["upstream", "fast"] as const;
export type TimingProfile = (typeof TIMING_PROFILES)[number];

/** The flag and environment variable that choose a component's profile. */
export const TIMING_PROFILE_FLAG = "timing-profile";
export const TIMING_PROFILE_ENV = "TSKUBE_TIMING_PROFILE";

/** How a timer's value reads: a Go duration, whole seconds, or a rate in nodes per second. */
export type TimingUnit = "duration" | "seconds" | "rate";

export interface TimingSetting {
  component: "apiserver" | "scheduler" | "controller-manager" | "kubelet";
  /** The component's flag (without "--"); its environment variable is `env`. */
  flag: string;
  env: string;
  /** What the timer is, as `ktl explain timing` names it. */
  setting: string;
  unit: TimingUnit;
  upstream: string;
  fast: string;
}

const leaderElection = <C extends "scheduler" | "controller-manager">(component: C) =>
  [
    {
      component,
      flag: "leader-elect-lease-duration",
      env: "TSKUBE_LEADER_ELECT_LEASE_DURATION",
      setting: "leader election lease duration",
      unit: "duration",
      upstream: "15s",
      fast: "3s",
    },
    {
      component,
      flag: "leader-elect-renew-deadline",
      env: "TSKUBE_LEADER_ELECT_RENEW_DEADLINE",
      setting: "leader election renew deadline",
      unit: "duration",
      upstream: "10s",
      fast: "2s",
    },
    {
      component,
      flag: "leader-elect-retry-period",
      env: "TSKUBE_LEADER_ELECT_RETRY_PERIOD",
      setting: "leader election retry period",
      unit: "duration",
      upstream: "2s",
      fast: "500ms",
    },
  ] as const;

/** Every recovery timer of the cluster, in the order `ktl explain timing` prints them. */
export const TIMINGS = [
  {
    component: "kubelet",
    flag: "node-lease-renew-interval",
    env: "TSKUBE_NODE_LEASE_RENEW_INTERVAL",
    setting: "node Lease renew interval",
    unit: "duration",
    upstream: "10s",
    fast: "1s",
  },
  {
    component: "kubelet",
    flag: "node-lease-duration-seconds",
    env: "TSKUBE_NODE_LEASE_DURATION_SECONDS",
    setting: "node Lease duration",
    unit: "seconds",
    upstream: "40",
    fast: "4",
  },
  {
    component: "kubelet",
    flag: "node-status-update-frequency",
    env: "TSKUBE_NODE_STATUS_UPDATE_FREQUENCY",
    setting: "node status update frequency",
    unit: "duration",
    upstream: "10s",
    fast: "1s",
  },
  {
    component: "kubelet",
    flag: "crash-loop-backoff-initial",
    env: "TSKUBE_CRASH_LOOP_BACKOFF_INITIAL",
    setting: "container restart backoff, first",
    unit: "duration",
    upstream: "10s",
    fast: "1s",
  },
  {
    component: "kubelet",
    flag: "crash-loop-backoff-max",
    env: "TSKUBE_CRASH_LOOP_BACKOFF_MAX",
    setting: "container restart backoff, max",
    unit: "duration",
    upstream: "5m",
    fast: "30s",
  },
  {
    component: "kubelet",
    flag: "crash-loop-backoff-reset",
    env: "TSKUBE_CRASH_LOOP_BACKOFF_RESET",
    setting: "container restart backoff reset",
    unit: "duration",
    upstream: "10m",
    fast: "1m",
  },
  {
    component: "kubelet",
    flag: "image-pull-backoff-initial",
    env: "TSKUBE_IMAGE_PULL_BACKOFF_INITIAL",
    setting: "image pull backoff, first",
    unit: "duration",
    upstream: "10s",
    fast: "1s",
  },
  {
    component: "kubelet",
    flag: "image-pull-backoff-max",
    env: "TSKUBE_IMAGE_PULL_BACKOFF_MAX",
    setting: "image pull backoff, max",
    unit: "duration",
    upstream: "5m",
    fast: "30s",
  },
  {
    component: "controller-manager",
    flag: "node-monitor-grace-period",
    env: "TSKUBE_NODE_MONITOR_GRACE_PERIOD",
    setting: "node monitor grace period",
    unit: "duration",
    upstream: "50s",
    fast: "5s",
  },
  {
    component: "controller-manager",
    flag: "node-monitor-period",
    env: "TSKUBE_NODE_MONITOR_PERIOD",
    setting: "node monitor period",
    unit: "duration",
    upstream: "5s",
    fast: "1s",
  },
  {
    component: "controller-manager",
    flag: "node-startup-grace-period",
    env: "TSKUBE_NODE_STARTUP_GRACE_PERIOD",
    setting: "node startup grace period",
    unit: "duration",
    upstream: "1m",
    fast: "20s",
  },
  {
    component: "controller-manager",
    flag: "node-eviction-rate",
    env: "TSKUBE_NODE_EVICTION_RATE",
    setting: "node eviction rate (nodes/s)",
    unit: "rate",
    upstream: "0.1",
    fast: "1",
  },
  {
    component: "controller-manager",
    flag: "secondary-node-eviction-rate",
    env: "TSKUBE_SECONDARY_NODE_EVICTION_RATE",
    setting: "secondary node eviction rate (nodes/s)",
    unit: "rate",
    upstream: "0.01",
    fast: "0.1",
  },
  ...leaderElection("controller-manager"),
  ...leaderElection("scheduler"),
  {
    component: "apiserver",
    flag: "default-not-ready-toleration-seconds",
    env: "TSKUBE_DEFAULT_NOT_READY_TOLERATION_SECONDS",
    setting: "default not-ready toleration",
    unit: "seconds",
    upstream: "300",
    fast: "3",
  },
  {
    component: "apiserver",
    flag: "default-unreachable-toleration-seconds",
    env: "TSKUBE_DEFAULT_UNREACHABLE_TOLERATION_SECONDS",
    setting: "default unreachable toleration",
    unit: "seconds",
    upstream: "300",
    fast: "3",
  },
  {
    // Not a Kubernetes flag: Kubernetes' defaulting always gives 10. Here the apiserver fills an
    // absent periodSeconds of a liveness, readiness or startup probe from it; a value the
    // manifest sets is kept.
    component: "apiserver",
    flag: "default-probe-period-seconds",
    env: "TSKUBE_DEFAULT_PROBE_PERIOD_SECONDS",
    setting: "probe periodSeconds default",
    unit: "seconds",
    upstream: "10",
    fast: "2",
  },
] as const satisfies readonly TimingSetting[];

type Timing = (typeof TIMINGS)[number];
export type TimedComponent = Timing["component"];
export type TimingFlag<C extends TimedComponent> = Extract<Timing, { component: C }>["flag"];

/** The settings of one component. */
export function timingsOf(component: TimedComponent): TimingSetting[] {
  return TIMINGS.filter((t) => t.component === component);
}

/** The --timing-profile value, checked; the error names the flag as a bad flag value does. */
export function parseTimingProfile(v: string): TimingProfile {
  if ((TIMING_PROFILES as readonly string[]).includes(v)) return v as TimingProfile;
  throw new Error(
    `--${TIMING_PROFILE_FLAG}: Unsupported value: ${JSON.stringify(v)}: supported values: ${[
      ...TIMING_PROFILES,
    ]
      .sort()
      .map((p) => `"${p}"`)
      .join(", ")}`,
  );
}

/** A setting's value in a profile. */
export function profileValue(t: TimingSetting, profile: TimingProfile): string {
  return profile === "fast" ? t.fast : t.upstream;
}

interface FlagSpecLike {
  env: string;
  default: string;
}

/**
 * A component's timing flags, defaults Kubernetes' (the profile `upstream`), plus
 * --timing-profile itself: spread into the component's flag table so that each timer has one
 * definition, here.
 */
export function timingFlags<C extends TimedComponent>(
  component: C,
): Record<TimingFlag<C> | typeof TIMING_PROFILE_FLAG, FlagSpecLike> {
  const out: Record<string, FlagSpecLike> = {
    [TIMING_PROFILE_FLAG]: { env: TIMING_PROFILE_ENV, default: "upstream" },
  };
  for (const t of timingsOf(component)) out[t.flag] = { env: t.env, default: t.upstream };
  return out as Record<TimingFlag<C> | typeof TIMING_PROFILE_FLAG, FlagSpecLike>;
}

/** The --timing-profile a process was started with: the flag, else TSKUBE_TIMING_PROFILE, else upstream. */
export function selectedTimingProfile(
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): TimingProfile {
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    if (a === `--${TIMING_PROFILE_FLAG}`) value = argv[i + 1] ?? "";
    else if (a.startsWith(`--${TIMING_PROFILE_FLAG}=`)) value = a.slice(TIMING_PROFILE_FLAG.length + 3);
  }
  return parseTimingProfile((value ?? env[TIMING_PROFILE_ENV] ?? "upstream").trim());
}

/**
 * The component's flag table with the timers' defaults taken from the selected profile, so an
 * explicit flag or its environment variable still wins over the profile (flag > env > profile >
 * Kubernetes' default). Throws on an unknown profile, naming --timing-profile.
 */
export function withTimingProfile<F extends Record<string, FlagSpecLike>>(
  component: TimedComponent,
  spec: F,
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): { spec: F; profile: TimingProfile } {
  const profile = selectedTimingProfile(argv, env);
  const out: Record<string, FlagSpecLike> = { ...spec };
  for (const t of timingsOf(component)) {
    const f = out[t.flag];
    if (f) out[t.flag] = { ...f, default: profileValue(t, profile) };
  }
  return { spec: out as F, profile };
}

/** Where a component records its timing for `ktl explain timing` (annotations of its Lease). */
export const TIMING_PROFILE_ANNOTATION = "tskube.io/timing-profile";
/** A JSON object of the component's timing flags and their values in effect. */
export const TIMING_VALUES_ANNOTATION = "tskube.io/timing";
/** The ConfigMap kube-system/tskube-timing, written by the apiserver at start. */
export const TIMING_CONFIGMAP = { namespace: "kube-system", name: "tskube-timing" } as const;

/** What a component records: its profile and every timing value it runs with. */
export interface TimingRecord {
  profile: TimingProfile;
  values: Record<string, string>;
}

export function timingRecord(
  component: TimedComponent,
  profile: TimingProfile,
  flags: Readonly<Record<string, string>>,
): TimingRecord {
  const values: Record<string, string> = {};
  for (const t of timingsOf(component)) {
    const v = flags[t.flag];
    if (v !== undefined) values[t.flag] = v;
  }
  return { profile, values };
}

/** The record as Lease annotations. */
export function timingAnnotations(r: TimingRecord): Record<string, string> {
  return { [TIMING_PROFILE_ANNOTATION]: r.profile, [TIMING_VALUES_ANNOTATION]: JSON.stringify(r.values) };
}

/** A timer's value in milliseconds (durations, seconds) or nodes per second (rates). */
export function timingNumber(t: Pick<TimingSetting, "unit" | "flag">, v: string): number {
  const n = t.unit === "duration" ? parseDuration(v) : Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0)
    throw new Error(`--${t.flag}: Invalid value: ${JSON.stringify(v)}`);
  return t.unit === "seconds" ? n * 1000 : n;
}

/** Whether two spellings of a timer's value mean the same ("60s" and "1m"). */
export function sameTiming(t: Pick<TimingSetting, "unit" | "flag">, a: string, b: string): boolean {
  try {
    return timingNumber(t, a) === timingNumber(t, b);
  } catch {
    return a === b;
  }
}

/** One step of a worst case: what happens, how long it can take at most, and the flags behind it. */
export interface RecoveryStep {
  step: string;
  ms: number;
  flags: string[];
}

export interface WorstCase {
  steps: RecoveryStep[];
  totalMs: number;
}

/** Reads a value the caller has for (component, flag); the profile's when it has none. */
export type TimingLookup = (component: TimedComponent, flag: string) => string;

export function profileLookup(profile: TimingProfile): TimingLookup {
  return (component, flag) => {
    const t = TIMINGS.find((x) => x.component === component && x.flag === flag);
    if (!t) throw new Error(`no timing ${component} --${flag}`);
    return profileValue(t, profile);
  };
}

function num(lookup: TimingLookup, component: TimedComponent, flag: string): number {
  const t = TIMINGS.find((x) => x.component === component && x.flag === flag)!;
  return timingNumber(t, lookup(component, flag));
}

/** Kubernetes' nodeEvictionPeriod: how often queued NoExecute taints are applied (a constant). */
export const NODE_EVICTION_PERIOD_MS = 100;

/**
 * The longest a node's death can take, in timers, to turn into its pods running and Ready on
 * another node. The kubelet dies right after a renewal, so its heartbeat ages from then; the
 * controller-manager sees the node Unknown only at a node-monitor-period tick after the grace
 * period; the NoExecute taint goes on at the next eviction pass (the zone's rate limiter admits
 * the first node at once, each further node 1/rate later); a pod with the default toleration is
 * deleted when it runs out; the ReplicaSet, scheduler and the new node's kubelet act on watch
 * events (no timer: the work of creating, binding and starting the pod is on top); the new
 * container's first readiness probe runs at once and, if the app was not listening yet, the next
 * one a probe period later.
 */
export function nodeDeathWorstCase(lookup: TimingLookup): WorstCase {
  const steps: RecoveryStep[] = [
    {
      step: "heartbeats stop; node is Unknown after the grace period",
      ms: num(lookup, "controller-manager", "node-monitor-grace-period"),
      flags: ["node-monitor-grace-period"],
    },
    {
      step: "until the next node health check",
      ms: num(lookup, "controller-manager", "node-monitor-period"),
      flags: ["node-monitor-period"],
    },
    {
      step: "NoExecute unreachable taint (eviction pass; first node of a zone at once)",
      ms: NODE_EVICTION_PERIOD_MS,
      flags: ["node-eviction-rate"],
    },
    {
      step: "pods tolerate the taint, then are deleted",
      ms: num(lookup, "apiserver", "default-unreachable-toleration-seconds"),
      flags: ["default-unreachable-toleration-seconds"],
    },
    {
      step: "replacement created, scheduled and started (watch-driven, no timer)",
      ms: 0,
      flags: [],
    },
    {
      step: "first readiness probe fails while the app starts; the next one passes",
      ms: num(lookup, "apiserver", "default-probe-period-seconds"),
      flags: ["default-probe-period-seconds"],
    },
  ];
  return { steps, totalMs: steps.reduce((s, x) => s + x.ms, 0) };
}

/**
 * The longest a leader's death can take to have its standby acting. A standby times the lease from
 * when it saw the last renewal (its own clock, as client-go), which it reads once per retry period:
 * it may see that renewal up to one period late, waits the lease duration from then, and takes the
 * Lease at its next try, up to one more period on.
 */
export function leaderDeathWorstCase(
  lookup: TimingLookup,
  component: "scheduler" | "controller-manager",
): WorstCase {
  const steps: RecoveryStep[] = [
    {
      step: "the standby sees the last renewal late",
      ms: num(lookup, component, "leader-elect-retry-period"),
      flags: ["leader-elect-retry-period"],
    },
    {
      step: "Lease unrenewed for its duration",
      ms: num(lookup, component, "leader-elect-lease-duration"),
      flags: ["leader-elect-lease-duration"],
    },
    {
      step: "until the standby's next try",
      ms: num(lookup, component, "leader-elect-retry-period"),
      flags: ["leader-elect-retry-period"],
    },
  ];
  return { steps, totalMs: steps.reduce((s, x) => s + x.ms, 0) };
}

/** Milliseconds as `ktl explain timing` prints them: "11.1s", "6m5.1s". */
export function formatTiming(ms: number): string {
  return formatDuration(Math.round(ms));
}
