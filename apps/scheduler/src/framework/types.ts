import type { Node, Pod } from "@tskube/api";

/** Resources in the units the scheduler adds up: milli-CPU, bytes, pod count. */
export interface Resources {
  milliCpu: number;
  memory: number;
  pods: number;
}

/** One node as a scheduling cycle sees it: the Node plus the pods bound (or assumed) to it. */
export interface NodeInfo {
  node: Node;
  name: string;
  pods: Pod[];
  /** The node's pods that carry required anti-affinity (usually none). */
  podsWithRequiredAntiAffinity: Pod[];
  requested: Resources;
  allocatable: Resources;
  /** The scheduler cache's generation of this node when it was copied (see SchedulerCache). */
  generation: number;
}

/** What every plugin can read during one cycle: all nodes, and every scheduled pod with its node. */
export interface Snapshot {
  /** Sorted by name; the order filtering walks them in. */
  nodes: NodeInfo[];
  byName: Map<string, NodeInfo>;
  /** Scheduled pods that carry required anti-affinity, with their nodes (usually none). */
  withAntiAffinity: { pod: Pod; node: NodeInfo }[];
  /** The highest cache generation copied into this snapshot: later changes are what the next update copies. */
  generation: number;
}

/**
 * Per-attempt scratch space (framework.CycleState): what a plugin derives from the pod alone is
 * worked out once per scheduling attempt instead of once per node (PreFilter/PreScore state).
 */
export class CycleState {
  private readonly data = new Map<string, unknown>();

  /** The value stored under `key`, computed on first use. */
  read<T>(key: string, compute: () => T): T {
    const have = this.data.get(key);
    if (have !== undefined || this.data.has(key)) return have as T;
    const v = compute();
    this.data.set(key, v);
    return v;
  }
}

/**
 * Pre-computed per-pod state: from the cycle's state when the framework runs the plugin, computed
 * on the spot when a caller (a test) runs one plugin on one node without a cycle.
 */
export function preState<T>(state: CycleState | undefined, key: string, compute: () => T): T {
  return state ? state.read(key, compute) : compute();
}

/** Skip: from PreFilter or PreScore, the plugin has nothing to say about this pod (Kubernetes 1.27+). */
export type Code = "Success" | "Unschedulable" | "UnschedulableAndUnresolvable" | "Error" | "Skip";

export interface Status {
  code: Code;
  /** Kubernetes' wording, e.g. "Insufficient cpu"; counted per node in FailedScheduling. */
  reasons: string[];
}

export const success: Status = { code: "Success", reasons: [] };
export const skip: Status = { code: "Skip", reasons: [] };
export const unschedulable = (...reasons: string[]): Status => ({ code: "Unschedulable", reasons });
export const unresolvable = (...reasons: string[]): Status => ({
  code: "UnschedulableAndUnresolvable",
  reasons,
});

/** framework.FilterPlugin: may this pod run on this node? */
export interface FilterPlugin {
  readonly name: string;
  /** PreFilter: once per attempt; Skip means every node would pass, so Filter is not run. */
  preFilter?(pod: Pod, snapshot: Snapshot, state: CycleState): Status;
  filter(pod: Pod, node: NodeInfo, snapshot: Snapshot, state?: CycleState): Status;
}

export const MAX_NODE_SCORE = 100;

/** framework.ScorePlugin: how good is this node (0–100 after normalize), times weight. */
export interface ScorePlugin {
  readonly name: string;
  readonly weight: number;
  /**
   * PreScore: once per attempt with the feasible nodes; Skip means every one of them would score
   * the same, so Score is not run (the same constant on every node changes no ranking).
   */
  preScore?(pod: Pod, feasible: readonly NodeInfo[], snapshot: Snapshot, state: CycleState): Status;
  score(pod: Pod, node: NodeInfo, snapshot: Snapshot, state?: CycleState): number;
  /**
   * Rescales raw scores of all feasible nodes into 0–100 (ScoreExtensions.NormalizeScore), in
   * place: it sets existing keys only, so the map keeps the feasible nodes' order.
   */
  normalize?(scores: Map<string, number>): void;
}

/** Scales scores so the best node gets MAX_NODE_SCORE (reverse: the lowest raw score wins). */
export function defaultNormalize(scores: Map<string, number>, reverse = false): void {
  let max = 0;
  for (const v of scores.values()) max = Math.max(max, v);
  for (const [k, v] of scores) {
    let s = max === 0 ? (reverse ? MAX_NODE_SCORE : 0) : Math.floor((v * MAX_NODE_SCORE) / max);
    if (reverse && max !== 0) s = MAX_NODE_SCORE - s;
    scores.set(k, s);
  }
}
