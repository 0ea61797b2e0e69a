import type { Experiment, ExperimentStatus } from "@tskube/api";
import { age } from "./age.js";
import type { Columns } from "./columns.js";

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

/** "3/4": invariants that held over those checked, or "<none>" before any was checked. */
function invariantsSummary(s: ExperimentStatus | undefined): string {
  const inv = s?.invariants ?? [];
  return inv.length ? `${inv.filter((i) => i.ok).length}/${inv.length}` : "<none>";
}

export const experimentColumns: Columns<Experiment> = {
  headers: ["ACTION", "TARGET", "PHASE", "VERDICT", "RECOVERY", "AGE"],
  wide: ["DETECTION", "SUCCESS", "INVARIANTS"],
  row: (e, now) => [
    e.spec?.action ?? "",
    experimentTarget(e),
    experimentPhase(e),
    e.status?.verdict || "<none>",
    seconds(e.status?.figures?.recoverySeconds),
    age(e.metadata?.creationTimestamp, now),
  ],
  wideRow: (e) => [
    seconds(e.status?.figures?.detectionSeconds),
    e.status?.requests && e.status.requests.total > 0 ? percent(e.status.requests.successRatio) : "<none>",
    invariantsSummary(e.status),
  ],
};

/** Recovery against the fast profile's limit: "12.25s (target 15s: met)". */
export function recoveryAgainstTarget(s: ExperimentStatus | undefined): string {
  const f = s?.figures;
  if (f?.recoverySeconds === undefined) return "<none>";
  if (!f.target) return `${seconds(f.recoverySeconds)} (no target)`;
  const met = f.recoverySeconds <= f.target;
  return `${seconds(f.recoverySeconds)} (target ${seconds(f.target)}: ${met ? "met" : "MISSED"})`;
}
