import type { Toleration } from "@tskube/api";
import {
  defaultNormalize,
  type FilterPlugin,
  type ScorePlugin,
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
  /** Fewer intolerable PreferNoSchedule taints is better. */
  score(pod, node) {
    const tolerations = (pod.spec?.tolerations ?? []).filter(
      (t) => !t.effect || t.effect === "PreferNoSchedule",
    );
    return (node.node.spec?.taints ?? []).filter(
      (taint) => taint.effect === "PreferNoSchedule" && !tolerations.some((t) => tolerates(t, taint)),
    ).length;
  },
  normalize(scores) {
    defaultNormalize(scores, true);
  },
};
