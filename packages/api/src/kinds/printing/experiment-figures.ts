import type { Experiment, ExperimentStatus } from "../../gen/tskube/v1/chaos.js";

/** A number of seconds as the figures print them: "1.25s", "12s". */
export function seconds(v: number | undefined): string {
  if (v === undefined) return "<none>";
  return `${Number(v.toFixed(v < 10 ? 2 : 1))}s`;
}

/** An offset from the kill, signed, to the millisecond: "+8.500s", "-1.000s". */
export function offset(v: number): string {
  return `${v < 0 ? "-" : "+"}${Math.abs(v).toFixed(3)}s`;
}

/** A success ratio as a percentage with two decimals ("99.67%"). */
export function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(2)}%`;
}

/** An empty phase means no controller has picked the experiment up yet. */
export const experimentPhase = (e: Experiment): string => e.status?.phase || "Pending";

/** The target as configured; unset, the controller chooses (RandomKill draws one per kill). */
export const experimentTarget = (e: Experiment): string =>
  e.spec?.target || (e.spec?.action === "RandomKill" ? "<random>" : "<auto>");

/** Recovery against the fast profile's limit: "12.25s (target 15s: met)". */
export function recoveryAgainstTarget(s: ExperimentStatus | undefined): string {
  const f = s?.figures;
  if (f?.recoverySeconds === undefined) return "<none>";
  if (!f.target) return `${seconds(f.recoverySeconds)} (no target)`;
  const met = f.recoverySeconds <= f.target;
  return `${seconds(f.recoverySeconds)} (target ${seconds(f.target)}: ${met ? "met" : "MISSED"})`;
}
