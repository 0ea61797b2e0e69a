import type { Pod } from "@tskube/api";
import type { FilterPlugin, ScorePlugin, Snapshot } from "./framework/types.js";

export type ScheduleResult =
  | { node: string; feasible: number; scores: Map<string, number> }
  | { node: undefined; message: string; reasons: Map<string, number> };

/**
 * One scheduling decision (Kubernetes' schedulePod): run every filter on every node, score the
 * feasible ones with weighted, normalized plugin scores, and pick the best (ties: first by name,
 * rotated by `tieBreak` so equal nodes share the load).
 */
export function scheduleOne(
  pod: Pod,
  snapshot: Snapshot,
  filters: readonly FilterPlugin[],
  scorers: readonly ScorePlugin[],
  tieBreak = 0,
): ScheduleResult {
  const feasible: string[] = [];
  const reasons = new Map<string, number>();
  for (const node of snapshot.nodes) {
    let ok = true;
    for (const f of filters) {
      const status = f.filter(pod, node, snapshot);
      if (status.code === "Success") continue;
      for (const r of status.reasons) reasons.set(r, (reasons.get(r) ?? 0) + 1);
      ok = false;
      break;
    }
    if (ok) feasible.push(node.name);
  }
  if (feasible.length === 0)
    return { node: undefined, message: fitErrorMessage(snapshot.nodes.length, reasons), reasons };
  const total = new Map<string, number>(feasible.map((n) => [n, 0]));
  if (feasible.length > 1) {
    for (const s of scorers) {
      const scores = new Map<string, number>();
      for (const n of feasible) scores.set(n, s.score(pod, snapshot.byName.get(n)!, snapshot));
      s.normalize?.(scores);
      for (const [n, v] of scores) total.set(n, total.get(n)! + v * s.weight);
    }
  }
  let best = -Infinity;
  let winners: string[] = [];
  for (const [n, v] of total) {
    if (v > best) {
      best = v;
      winners = [n];
    } else if (v === best) winners.push(n);
  }
  return { node: winners[tieBreak % winners.length]!, feasible: feasible.length, scores: total };
}

/** `0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {k: v}.` */
export function fitErrorMessage(nodes: number, reasons: Map<string, number>): string {
  if (nodes === 0) return "no nodes available to schedule pods";
  const parts = [...reasons.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([r, n]) => `${n} ${r}`);
  return `0/${nodes} nodes are available: ${parts.join(", ")}.`;
}
