import type { Toleration } from "@tskube/api";
import {
  type CycleState,
  defaultNormalize,
  type FilterPlugin,
  preState,
  type ScorePlugin,
  skip,
  success,
  unresolvable,
} from "../framework/types.js";

interface TaintLike {
  key: string;
  value: string;
  effect: string;
}

/** v1.Toleration.ToleratesTaint. */
export function tolerates(t: Toleration, taint: TaintLike): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (!t.key && t.operator !== "Exists") return false;
  if (t.operator === "Exists") return true;
  return (t.value ?? "") === taint.value;
}

/** Filter: every NoSchedule/NoExecute taint on the node must be tolerated. */
export const taintToleration: FilterPlugin & ScorePlugin = {
  name: "TaintToleration",
  weight: 3,
  filter(pod, node) {
    const tolerations = pod.spec?.tolerations ?? [];
    for (const taint of node.node.spec?.taints ?? []) {
      if (taint.effect !== "NoSchedule" && taint.effect !== "NoExecute") continue;
      if (!tolerations.some((t) => tolerates(t, taint))) {
        return unresolvable(`node(s) had untolerated taint {${taint.key}: ${taint.value}}`);
      }
    }
    return success;
  },
  /** PreScore: without PreferNoSchedule taints on the feasible nodes, every node scores 0. */
  preScore(_pod, feasible) {
    for (const n of feasible)
      for (const taint of n.node.spec?.taints ?? []) if (taint.effect === "PreferNoSchedule") return success;
    return skip;
  },
  /** Fewer intolerable PreferNoSchedule taints is better. */
  score(pod, node, _snap, state?: CycleState) {
    const taints = node.node.spec?.taints;
    if (!taints?.length) return 0;
    // PreScore: the pod's tolerations that can apply to PreferNoSchedule taints.
    const tolerations = preState(state, "PreScoreTaintToleration", () =>
      (pod.spec?.tolerations ?? []).filter((t) => !t.effect || t.effect === "PreferNoSchedule"),
    );
    let n = 0;
    for (const taint of taints)
      if (taint.effect === "PreferNoSchedule" && !tolerations.some((t) => tolerates(t, taint))) n++;
    return n;
  },
  normalize(scores) {
    defaultNormalize(scores, true);
  },
};
