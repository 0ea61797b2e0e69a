import type { FilterPlugin, ScorePlugin } from "../framework/types.js";
import { interPodAffinity } from "./inter-pod-affinity.js";
import { nodeAffinity } from "./node-affinity.js";
import { nodeName } from "./node-name.js";
import { balancedAllocation, leastAllocated, nodeResourcesFit } from "./node-resources-fit.js";
import { nodeUnschedulable } from "./node-unschedulable.js";
import { selectorSpread } from "./selector-spread.js";
import { taintToleration } from "./taint-toleration.js";

/** The default profile: filters run in this order (cheap and decisive first), then every score. */
export const DEFAULT_FILTERS: readonly FilterPlugin[] = [
  nodeUnschedulable,
  nodeName,
  taintToleration,
  nodeAffinity,
  nodeResourcesFit,
  interPodAffinity,
];

export const DEFAULT_SCORES: readonly ScorePlugin[] = [
  leastAllocated,
  balancedAllocation,
  taintToleration,
  nodeAffinity,
  interPodAffinity,
  selectorSpread,
];
