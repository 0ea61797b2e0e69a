import type { Pod } from "@tskube/api";
import {
  type CycleState,
  defaultNormalize,
  preState,
  type ScorePlugin,
  skip,
  success,
} from "../framework/types.js";

const controllerUid = (pod: Pod) => pod.metadata?.ownerReferences.find((o) => o.controller)?.uid;

/**
 * Score: spread the pods of one controller (same controlling owner) across nodes, so losing a
 * node loses as few replicas as possible (Kubernetes' SelectorSpread / default topology spreading).
 */
export const selectorSpread: ScorePlugin = {
  name: "SelectorSpread",
  weight: 2,
  // PreScore: the controlling owner, once per attempt; a pod without one has nothing to spread.
  preScore(pod, _feasible, _snap, state) {
    return state.read("PreScoreSelectorSpread", () => controllerUid(pod)) ? success : skip;
  },
  score(pod, node, _snap, state?: CycleState) {
    const owner = preState(state, "PreScoreSelectorSpread", () => controllerUid(pod));
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
