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
  requested: Resources;
  allocatable: Resources;
}

/** What every plugin can read during one cycle: all nodes, and every scheduled pod with its node. */
export interface Snapshot {
  nodes: NodeInfo[];
  byName: Map<string, NodeInfo>;
  /** Scheduled pods that carry required anti-affinity, with their nodes (usually none). */
  withAntiAffinity: { pod: Pod; node: NodeInfo }[];
}

export type Code = "Success" | "Unschedulable" | "UnschedulableAndUnresolvable" | "Error";

export interface Status {
  code: Code;
  /** Kubernetes' wording, e.g. "Insufficient cpu"; counted per node in FailedScheduling. */
  reasons: string[];
}

export const success: Status = { code: "Success", reasons: [] };
export const unschedulable = (...reasons: string[]): Status => ({ code: "Unschedulable", reasons });
export const unresolvable = (...reasons: string[]): Status => ({
  code: "UnschedulableAndUnresolvable",
  reasons,
});

/** framework.FilterPlugin: may this pod run on this node? */
export interface FilterPlugin {
  readonly name: string;
  filter(pod: Pod, node: NodeInfo, snapshot: Snapshot): Status;
}

export const MAX_NODE_SCORE = 100;

/** framework.ScorePlugin: how good is this node (0–100 after normalize), times weight. */
export interface ScorePlugin {
  readonly name: string;
  readonly weight: number;
  score(pod: Pod, node: NodeInfo, snapshot: Snapshot): number;
  /** Rescales raw scores of all feasible nodes into 0–100 (ScoreExtensions.NormalizeScore). */
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
