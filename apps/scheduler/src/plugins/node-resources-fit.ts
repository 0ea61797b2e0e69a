import type { Pod } from "@tskube/api";
import { podRequests } from "../framework/resources.js";
import {
  type CycleState,
  type FilterPlugin,
  type NodeInfo,
  preState,
  type ScorePlugin,
  success,
  unschedulable,
} from "../framework/types.js";

/** Filter: the pod's requests fit in allocatable minus what is already requested. */
export const nodeResourcesFit: FilterPlugin = {
  name: "NodeResourcesFit",
  filter(pod, node, _snap, state?: CycleState) {
    const r = preState(state, "PreFilterNodeResourcesFit", () => podRequests(pod));
    const tooMany = node.requested.pods + 1 > node.allocatable.pods;
    const cpu = r.milliCpu > 0 && node.requested.milliCpu + r.milliCpu > node.allocatable.milliCpu;
    const mem = r.memory > 0 && node.requested.memory + r.memory > node.allocatable.memory;
    if (!tooMany && !cpu && !mem) return success;
    const reasons: string[] = [];
    if (tooMany) reasons.push("Too many pods");
    if (cpu) reasons.push("Insufficient cpu");
    if (mem) reasons.push("Insufficient memory");
    return unschedulable(...reasons);
  },
};

function fraction(requested: number, allocatable: number): number {
  return allocatable > 0 ? Math.min(1, requested / allocatable) : 1;
}

/** Kubernetes' non-zero defaults for pods without requests: 100m CPU, 200 MiB. */
const DEFAULT_MILLI_CPU_REQUEST = 100;
const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

/** PreScore state: the pod's requests with the non-zero defaults, so pods without requests still count. */
function nonZeroRequests(pod: Pod, state: CycleState | undefined): { milliCpu: number; memory: number } {
  return preState(state, "PreScoreNodeResources", () => {
    const r = podRequests(pod);
    return { milliCpu: r.milliCpu || DEFAULT_MILLI_CPU_REQUEST, memory: r.memory || DEFAULT_MEMORY_REQUEST };
  });
}

const cpuFraction = (r: { milliCpu: number }, node: NodeInfo) =>
  fraction(node.requested.milliCpu + r.milliCpu, node.allocatable.milliCpu);
const memFraction = (r: { memory: number }, node: NodeInfo) =>
  fraction(node.requested.memory + r.memory, node.allocatable.memory);

/** Score: prefer nodes with the most free CPU and memory after placing the pod (LeastAllocated). */
export const leastAllocated: ScorePlugin = {
  name: "NodeResourcesLeastAllocated",
  weight: 1,
  score(pod, node, _snap, state?: CycleState) {
    const r = nonZeroRequests(pod, state);
    return Math.floor(((1 - cpuFraction(r, node) + (1 - memFraction(r, node))) / 2) * 100);
  },
};

/** Score: prefer nodes whose CPU and memory use stay balanced (NodeResourcesBalancedAllocation). */
export const balancedAllocation: ScorePlugin = {
  name: "NodeResourcesBalancedAllocation",
  weight: 1,
  score(pod, node, _snap, state?: CycleState) {
    const r = nonZeroRequests(pod, state);
    const cpu = cpuFraction(r, node);
    const mem = memFraction(r, node);
    const mean = (cpu + mem) / 2;
    const std = Math.sqrt(((cpu - mean) ** 2 + (mem - mean) ** 2) / 2);
    return Math.floor((1 - std) * 100);
  },
};
