import type { Pod } from "@tskube/api";
import {
  CycleState,
  type FilterPlugin,
  type NodeInfo,
  type ScorePlugin,
  type Snapshot,
} from "./framework/types.js";

export type ScheduleResult =
  | { node: string; feasible: number; processed: number; score: number }
  | { node: undefined; message: string; reasons: Map<string, number>; processed: number };

export interface ScheduleOptions {
  /** Rotates among equally scored nodes so they share the load. */
  tieBreak?: number;
  /** Where filtering starts in the node list (Kubernetes' nextStartNodeIndex), so every node gets its turn. */
  startIndex?: number;
  /** percentageOfNodesToScore: 0 is adaptive, 100 finds every feasible node. */
  percentageOfNodesToScore?: number;
}

/** Below this many nodes every node is checked (Kubernetes' minFeasibleNodesToFind). */
export const MIN_FEASIBLE_NODES_TO_FIND = 100;
/** The adaptive percentage never goes below this (minFeasibleNodesPercentageToFind). */
export const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5;

/**
 * How many feasible nodes are enough (Kubernetes' numFeasibleNodesToFind): on big clusters,
 * filtering stops after this many fit and only those are scored, since a good-enough node found
 * quickly beats the best node found slowly. Adaptive (percentage 0): 50% minus 1% per 125 nodes,
 * at least 5%, and never fewer than 100 nodes.
 */
export function numFeasibleNodesToFind(numAllNodes: number, percentageOfNodesToScore = 0): number {
  if (numAllNodes < MIN_FEASIBLE_NODES_TO_FIND || percentageOfNodesToScore >= 100) return numAllNodes;
  let pct = percentageOfNodesToScore;
  if (pct <= 0) {
    pct = 50 - Math.trunc(numAllNodes / 125);
    pct = Math.max(pct, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
  }
  const n = Math.trunc((numAllNodes * pct) / 100);
  return Math.max(n, MIN_FEASIBLE_NODES_TO_FIND);
}

/**
 * One scheduling decision (Kubernetes' schedulePod): run the filters on the nodes, starting at
 * `startIndex` and stopping once enough fit (numFeasibleNodesToFind), score the feasible ones
 * with weighted, normalized plugin scores, and pick the best (ties: rotated by `tieBreak`).
 * `processed` is how many nodes were looked at, for the caller's next start index.
 */
export function scheduleOne(
  pod: Pod,
  snapshot: Snapshot,
  filters: readonly FilterPlugin[],
  scorers: readonly ScorePlugin[],
  opts: ScheduleOptions = {},
): ScheduleResult {
  const state = new CycleState();
  const all = snapshot.nodes;
  const want = numFeasibleNodesToFind(all.length, opts.percentageOfNodesToScore ?? 0);
  const start = all.length ? (opts.startIndex ?? 0) % all.length : 0;
  // PreFilter: plugins with nothing to check for this pod are left out of the per-node loop.
  const active = filters.filter((f) => f.preFilter?.(pod, snapshot, state).code !== "Skip");
  const feasible: NodeInfo[] = [];
  const reasons = new Map<string, number>();
  let processed = 0;
  for (; processed < all.length && feasible.length < want; processed++) {
    const node = all[(start + processed) % all.length]!;
    let ok = true;
    for (const f of active) {
      const status = f.filter(pod, node, snapshot, state);
      if (status.code === "Success") continue;
      for (const r of status.reasons) reasons.set(r, (reasons.get(r) ?? 0) + 1);
      ok = false;
      break;
    }
    if (ok) feasible.push(node);
  }
  if (feasible.length === 0)
    return { node: undefined, message: fitErrorMessage(all.length, reasons), reasons, processed };
  const total = new Float64Array(feasible.length);
  if (feasible.length > 1) {
    // One map per plugin, as NormalizeScore sees a plugin's scores for all feasible nodes.
    const scores = new Map<string, number>();
    for (const s of scorers) {
      // PreScore Skip: the plugin would score every node alike, which changes no ranking.
      if (s.preScore?.(pod, feasible, snapshot, state).code === "Skip") continue;
      if (!s.normalize) {
        for (let i = 0; i < feasible.length; i++)
          total[i]! += s.score(pod, feasible[i]!, snapshot, state) * s.weight;
        continue;
      }
      scores.clear();
      for (const n of feasible) scores.set(n.name, s.score(pod, n, snapshot, state));
      s.normalize?.(scores);
      let i = 0;
      for (const v of scores.values()) total[i++]! += v * s.weight;
    }
  }
  let best = -Infinity;
  const winners: number[] = [];
  for (let i = 0; i < total.length; i++) {
    const v = total[i]!;
    if (v > best) {
      best = v;
      winners.length = 0;
      winners.push(i);
    } else if (v === best) winners.push(i);
  }
  const pick = winners[(opts.tieBreak ?? 0) % winners.length]!;
  return { node: feasible[pick]!.name, feasible: feasible.length, processed, score: best };
}

/** `0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {k: v}.` */
export function fitErrorMessage(nodes: number, reasons: Map<string, number>): string {
  if (nodes === 0) return "no nodes available to schedule pods";
  const parts = [...reasons.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([r, n]) => `${n} ${r}`);
  return `0/${nodes} nodes are available: ${parts.join(", ")}.`;
}
