import { defaultNormalize, type ScorePlugin } from "../framework/types.js";

/**
 * Score: spread the pods of one controller (same controlling owner) across nodes, so losing a
 * node loses as few replicas as possible (Kubernetes' SelectorSpread / default topology spreading).
 */
export const selectorSpread: ScorePlugin = {
  name: "SelectorSpread",
  weight: 2,
  score(pod, node) {
    const owner = pod.metadata?.ownerReferences.find((o) => o.controller)?.uid;
    if (!owner) return 0;
    return node.pods.filter((p) => p.metadata?.ownerReferences.some((o) => o.controller && o.uid === owner))
      .length;
  },
  normalize(scores) {
    defaultNormalize(scores, true);
  },
};
