import { type FieldError, field } from "@tskube/machinery";
import type { Experiment, ExperimentSpec, ExperimentStatus } from "../gen/tskube/v1/chaos.js";
import { canonicalJson } from "./canonical.js";
import { defineStrategy } from "./define-strategy.js";
import { dns1123Label, dns1123Subdomain, validateObjectMeta, validateObjectMetaUpdate } from "./meta.js";
import type { Strategy } from "./types.js";

/** The actions that crash (SIGKILL) one component; RandomKill draws from these by default. */
export const EXPERIMENT_KILL_ACTIONS = [
  "PodKill",
  "KubeletKill",
  "NodeKill",
  "SchedulerLeaderKill",
  "ControllerManagerLeaderKill",
  "ApiserverKill",
  "EtcdMemberKill",
  "EtcdLeaderKill",
] as const;

/** Every value spec.action takes. */
export const EXPERIMENT_ACTIONS = [...EXPERIMENT_KILL_ACTIONS, "NodePause", "RandomKill"] as const;
export type ExperimentAction = (typeof EXPERIMENT_ACTIONS)[number];

/** The actions RandomKill may draw: every action but RandomKill itself. */
const RANDOM_POOL: readonly string[] = EXPERIMENT_ACTIONS.filter((a) => a !== "RandomKill");

/** Actions that hold a component down for spec.downSeconds before bringing it back. */
export const EXPERIMENT_HELD_ACTIONS: readonly string[] = ["KubeletKill", "NodeKill", "NodePause"];

export const EXPERIMENT_PHASES = ["Pending", "Running", "Succeeded", "Failed"] as const;
export const EXPERIMENT_VERDICTS = ["Passed", "Failed"] as const;
const TERMINAL_PHASES: readonly string[] = ["Succeeded", "Failed"];

/**
 * spec.durationSeconds when unset: long enough to see the action's recovery in the fast profile
 * (a held node comes back after downSeconds and must go Ready again; a lost leader is replaced in
 * a few seconds; RandomKill's window is the settling time after the last kill).
 */
export const EXPERIMENT_DEFAULT_DURATION_SECONDS: Readonly<Record<ExperimentAction, number>> = {
  PodKill: 20,
  KubeletKill: 45,
  NodeKill: 45,
  NodePause: 45,
  SchedulerLeaderKill: 20,
  ControllerManagerLeaderKill: 20,
  ApiserverKill: 30,
  EtcdMemberKill: 30,
  EtcdLeaderKill: 30,
  RandomKill: 30,
};
export const EXPERIMENT_DEFAULTS = {
  requestsPerSecond: 20,
  downSeconds: 20,
  intervalSeconds: 10,
  totalSeconds: 120,
} as const;

/**
 * Bounds that keep one Experiment (its request stream and its status) a bounded object: a
 * second-by-second sample per run at most MAX_SAMPLES long, a kill at most every 2 s.
 */
export const EXPERIMENT_LIMITS = {
  requestsPerSecond: [1, 1000],
  durationSeconds: [1, 600],
  downSeconds: [1, 300],
  intervalSeconds: [2, 300],
  totalSeconds: [1, 1800],
  samples: 600,
  timeline: 2000,
  kills: 1000,
  invariants: 100,
} as const;

const isAction = (a: string): a is ExperimentAction => (EXPERIMENT_ACTIONS as readonly string[]).includes(a);

const inRange = (path: string, v: number | undefined, [min, max]: readonly [number, number]): FieldError[] =>
  v !== undefined && (v < min || v > max || !Number.isInteger(v))
    ? [field.invalid(path, v, `must be between ${min} and ${max}, inclusive`)]
    : [];

const nonNegative = (path: string, v: number | undefined): FieldError[] =>
  v !== undefined && (v < 0 || Number.isNaN(v))
    ? [field.invalid(path, v, "must be greater than or equal to 0")]
    : [];

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

const timestamp = (path: string, v: string): FieldError[] =>
  v && (!RFC3339.test(v) || Number.isNaN(Date.parse(v)))
    ? [field.invalid(path, v, "must be an RFC 3339 timestamp")]
    : [];

function validateSpec(spec: ExperimentSpec): FieldError[] {
  const errs: FieldError[] = [];
  const { action } = spec;
  if (!action) errs.push(field.required("spec.action", ""));
  else if (!isAction(action)) errs.push(field.notSupported("spec.action", action, EXPERIMENT_ACTIONS));
  const random = action === "RandomKill";

  if (spec.target) {
    if (random) errs.push(field.forbidden("spec.target", "may not be set when action is RandomKill"));
    for (const e of dns1123Subdomain(spec.target)) errs.push(field.invalid("spec.target", spec.target, e));
  }
  const w = spec.workload;
  if (w) {
    for (const e of dns1123Label(w.namespace))
      errs.push(field.invalid("spec.workload.namespace", w.namespace, e));
    if (!w.deployment) errs.push(field.required("spec.workload.deployment", ""));
    else
      for (const e of dns1123Subdomain(w.deployment))
        errs.push(field.invalid("spec.workload.deployment", w.deployment, e));
    if (!w.service) errs.push(field.required("spec.workload.service", ""));
    else
      for (const e of dns1123Label(w.service))
        errs.push(field.invalid("spec.workload.service", w.service, e));
  }

  errs.push(
    ...inRange("spec.requestsPerSecond", spec.requestsPerSecond, EXPERIMENT_LIMITS.requestsPerSecond),
  );
  errs.push(...inRange("spec.durationSeconds", spec.durationSeconds, EXPERIMENT_LIMITS.durationSeconds));

  const holds = EXPERIMENT_HELD_ACTIONS.includes(action) || random;
  if (spec.downSeconds !== undefined) {
    if (isAction(action) && !holds) {
      errs.push(
        field.forbidden(
          "spec.downSeconds",
          `may only be set when action is one of ${[...EXPERIMENT_HELD_ACTIONS, "RandomKill"].join(", ")}`,
        ),
      );
    } else {
      const rangeErrs = inRange("spec.downSeconds", spec.downSeconds, EXPERIMENT_LIMITS.downSeconds);
      errs.push(...rangeErrs);
      // The window must outlast the outage, or the component's return is never observed.
      if (
        !rangeErrs.length &&
        !random &&
        spec.durationSeconds !== undefined &&
        spec.downSeconds >= spec.durationSeconds
      ) {
        errs.push(
          field.invalid(
            "spec.downSeconds",
            spec.downSeconds,
            `must be less than spec.durationSeconds (${spec.durationSeconds})`,
          ),
        );
      }
    }
  }

  const onlyRandom = (path: string) => field.forbidden(path, "may only be set when action is RandomKill");
  if (random || !isAction(action)) {
    const intervalErrs = inRange(
      "spec.intervalSeconds",
      spec.intervalSeconds,
      EXPERIMENT_LIMITS.intervalSeconds,
    );
    const totalErrs = inRange("spec.totalSeconds", spec.totalSeconds, EXPERIMENT_LIMITS.totalSeconds);
    errs.push(...intervalErrs, ...totalErrs);
    if (
      !intervalErrs.length &&
      !totalErrs.length &&
      spec.intervalSeconds !== undefined &&
      spec.totalSeconds !== undefined &&
      spec.intervalSeconds > spec.totalSeconds
    ) {
      errs.push(
        field.invalid(
          "spec.intervalSeconds",
          spec.intervalSeconds,
          `must be less than or equal to spec.totalSeconds (${spec.totalSeconds})`,
        ),
      );
    }
    const seen = new Set<string>();
    spec.actions.forEach((a, i) => {
      const path = `spec.actions[${i}]`;
      if (!RANDOM_POOL.includes(a)) errs.push(field.notSupported(path, a, RANDOM_POOL));
      else if (seen.has(a)) errs.push(field.duplicate(path, a));
      seen.add(a);
    });
  } else {
    if (spec.intervalSeconds !== undefined) errs.push(onlyRandom("spec.intervalSeconds"));
    if (spec.totalSeconds !== undefined) errs.push(onlyRandom("spec.totalSeconds"));
    if (spec.actions.length) errs.push(onlyRandom("spec.actions"));
  }
  return errs;
}

function validateStatus(s: ExperimentStatus, old: ExperimentStatus | undefined): FieldError[] {
  const errs: FieldError[] = [];
  if (s.phase && !(EXPERIMENT_PHASES as readonly string[]).includes(s.phase))
    errs.push(field.notSupported("status.phase", s.phase, EXPERIMENT_PHASES));
  // A finished experiment's outcome is its record; it is not run again under the same name.
  const was = old?.phase ?? "";
  if (TERMINAL_PHASES.includes(was) && s.phase !== was)
    errs.push(field.forbidden("status.phase", `may not change once it is ${was}`));
  if (s.verdict && !(EXPERIMENT_VERDICTS as readonly string[]).includes(s.verdict))
    errs.push(field.notSupported("status.verdict", s.verdict, EXPERIMENT_VERDICTS));
  errs.push(...timestamp("status.startTime", s.startTime));
  errs.push(...timestamp("status.completionTime", s.completionTime));
  errs.push(...nonNegative("status.observedGeneration", s.observedGeneration));

  if (s.timeline.length > EXPERIMENT_LIMITS.timeline)
    errs.push(field.tooMany("status.timeline", s.timeline.length, EXPERIMENT_LIMITS.timeline));
  s.timeline.forEach((e, i) => {
    const path = `status.timeline[${i}]`;
    if (!e.event) errs.push(field.required(`${path}.event`, ""));
    if (!e.time) errs.push(field.required(`${path}.time`, ""));
    errs.push(...timestamp(`${path}.time`, e.time));
    if (!Number.isFinite(e.offsetSeconds))
      errs.push(field.invalid(`${path}.offsetSeconds`, String(e.offsetSeconds), "must be a finite number"));
  });

  const f = s.figures;
  if (f) {
    errs.push(...nonNegative("status.figures.detectionSeconds", f.detectionSeconds));
    errs.push(...nonNegative("status.figures.recoverySeconds", f.recoverySeconds));
    errs.push(...nonNegative("status.figures.target", f.target));
  }

  const r = s.requests;
  if (r) {
    errs.push(...nonNegative("status.requests.total", r.total));
    errs.push(...nonNegative("status.requests.succeeded", r.succeeded));
    errs.push(...nonNegative("status.requests.failed", r.failed));
    errs.push(...nonNegative("status.requests.p50Ms", r.p50Ms));
    errs.push(...nonNegative("status.requests.p99Ms", r.p99Ms));
    if (r.succeeded + r.failed > r.total)
      errs.push(
        field.invalid(
          "status.requests.total",
          r.total,
          `must be greater than or equal to succeeded + failed (${r.succeeded + r.failed})`,
        ),
      );
    if (!(r.successRatio >= 0 && r.successRatio <= 1))
      errs.push(
        field.invalid("status.requests.successRatio", r.successRatio, "must be between 0 and 1, inclusive"),
      );
    if (r.p50Ms > r.p99Ms)
      errs.push(
        field.invalid("status.requests.p50Ms", r.p50Ms, `must be less than or equal to p99Ms (${r.p99Ms})`),
      );
  }

  const w = s.writes;
  if (w) {
    errs.push(...nonNegative("status.writes.acknowledged", w.acknowledged));
    errs.push(...nonNegative("status.writes.lost", w.lost));
    errs.push(...nonNegative("status.writes.rejected", w.rejected));
    if (w.lost > w.acknowledged)
      errs.push(
        field.invalid(
          "status.writes.lost",
          w.lost,
          `must be less than or equal to acknowledged (${w.acknowledged})`,
        ),
      );
  }

  if (s.invariants.length > EXPERIMENT_LIMITS.invariants)
    errs.push(field.tooMany("status.invariants", s.invariants.length, EXPERIMENT_LIMITS.invariants));
  const names = new Set<string>();
  s.invariants.forEach((inv, i) => {
    const path = `status.invariants[${i}].name`;
    if (!inv.name) errs.push(field.required(path, ""));
    else if (names.has(inv.name)) errs.push(field.duplicate(path, inv.name));
    names.add(inv.name);
  });

  if (s.samples.length > EXPERIMENT_LIMITS.samples)
    errs.push(field.tooMany("status.samples", s.samples.length, EXPERIMENT_LIMITS.samples));
  s.samples.forEach((x, i) => {
    const path = `status.samples[${i}]`;
    errs.push(...nonNegative(`${path}.readyReplicas`, x.readyReplicas));
    errs.push(...nonNegative(`${path}.requestsOk`, x.requestsOk));
    errs.push(...nonNegative(`${path}.requestsFailed`, x.requestsFailed));
    if (!Number.isFinite(x.offsetSeconds))
      errs.push(field.invalid(`${path}.offsetSeconds`, String(x.offsetSeconds), "must be a finite number"));
  });

  if (s.kills.length > EXPERIMENT_LIMITS.kills)
    errs.push(field.tooMany("status.kills", s.kills.length, EXPERIMENT_LIMITS.kills));
  s.kills.forEach((k, i) => {
    const path = `status.kills[${i}]`;
    if (!k.time) errs.push(field.required(`${path}.time`, ""));
    errs.push(...timestamp(`${path}.time`, k.time));
    if (!RANDOM_POOL.includes(k.action))
      errs.push(field.notSupported(`${path}.action`, k.action, RANDOM_POOL));
    errs.push(...nonNegative(`${path}.recoverySeconds`, k.recoverySeconds));
  });
  return errs;
}

/**
 * Experiment (chaos.tskube.io/v1alpha1). The spec says what to break and for how long; it is
 * immutable, since the status records one run of exactly that spec. Ranges keep each run bounded.
 */
export const experimentStrategy: Strategy<Experiment> = defineStrategy<Experiment>({
  applyDefaults(exp) {
    const spec = exp.spec;
    if (!spec) return;
    spec.requestsPerSecond ??= EXPERIMENT_DEFAULTS.requestsPerSecond;
    if (isAction(spec.action)) spec.durationSeconds ??= EXPERIMENT_DEFAULT_DURATION_SECONDS[spec.action];
    if (EXPERIMENT_HELD_ACTIONS.includes(spec.action) || spec.action === "RandomKill")
      spec.downSeconds ??= EXPERIMENT_DEFAULTS.downSeconds;
    if (spec.action === "RandomKill") {
      spec.intervalSeconds ??= EXPERIMENT_DEFAULTS.intervalSeconds;
      spec.totalSeconds ??= EXPERIMENT_DEFAULTS.totalSeconds;
      if (spec.actions.length === 0) spec.actions = [...EXPERIMENT_KILL_ACTIONS];
    }
    if (spec.workload && !spec.workload.namespace)
      spec.workload.namespace = exp.metadata?.namespace || "default";
  },
  validate(exp) {
    const errs = validateObjectMeta(exp.metadata, true);
    if (!exp.spec) return [...errs, field.required("spec", "")];
    return [...errs, ...validateSpec(exp.spec)];
  },
  validateUpdate(exp, old) {
    const errs = [
      ...experimentStrategy.validate(exp),
      ...validateObjectMetaUpdate(exp.metadata, old.metadata),
    ];
    if (canonicalJson(exp.spec) !== canonicalJson(old.spec))
      errs.push(field.forbidden("spec", "experiment spec is immutable; create a new Experiment instead"));
    return errs;
  },
  validateStatusUpdate(exp, old) {
    const errs = validateObjectMetaUpdate(exp.metadata, old.metadata);
    if (exp.status) errs.push(...validateStatus(exp.status, old.status));
    return errs;
  },
  selectableFields(exp) {
    return { "spec.action": exp.spec?.action ?? "", "status.phase": exp.status?.phase ?? "" };
  },
});
