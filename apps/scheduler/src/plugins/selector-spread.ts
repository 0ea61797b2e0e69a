import { type CycleState, defaultNormalize, preState, type ScorePlugin } from "../framework/types.js";

/**
 * Score: spread the pods of one controller (same controlling owner) across nodes, so losing a
 * node loses as few replicas as possible (Kubernetes' SelectorSpread / default topology spreading).
 */
export const selectorSpread: ScorePlugin = {
  name: "SelectorSpread",
  weight: 2,
  score(pod, node, _snap, state?: CycleState) {
    // PreScore: the controlling owner, once per attempt.
    const owner = preState(
      state,
      "PreScoreSelectorSpread",
      () => pod.metadata?.ownerReferences.find((o) => o.controller)?.uid,
    );
    if (!owner) return 0;
    let n = 0;
    for (const p of node.pods)
      if (p.metadata?.ownerReferences.some((o) => o.controller && o.uid === owner)) n++;
    return n;
  },
  normalize(scores) {
    defaultNormalize(scores, true);
  },
};
