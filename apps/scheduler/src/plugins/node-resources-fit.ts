import { podRequests } from "../framework/resources.js";
import {
  type FilterPlugin,
  type NodeInfo,
  type ScorePlugin,
  success,
  unschedulable,
} from "../framework/types.js";

/** Filter: the pod's requests fit in allocatable minus what is already requested. */
export const nodeResourcesFit: FilterPlugin = {
  name: "NodeResourcesFit",
  filter(pod, node) {
    const r = podRequests(pod);
    const reasons: string[] = [];
    if (node.requested.pods + 1 > node.allocatable.pods) reasons.push("Too many pods");
    if (r.milliCpu > 0 && node.requested.milliCpu + r.milliCpu > node.allocatable.milliCpu)
      reasons.push("Insufficient cpu");
    if (r.memory > 0 && node.requested.memory + r.memory > node.allocatable.memory)
      reasons.push("Insufficient memory");
    return reasons.length ? unschedulable(...reasons) : success;
  },
};

function fraction(requested: number, allocatable: number): number {
  return allocatable > 0 ? Math.min(1, requested / allocatable) : 1;
}

/** Pods without requests still count, as Kubernetes' non-zero defaults: 100m CPU, 200 MiB. */
function withRequests(pod: Parameters<FilterPlugin["filter"]>[0], node: NodeInfo) {
  const r = podRequests(pod);
  const cpu = node.requested.milliCpu + (r.milliCpu || 100);
  const mem = node.requested.memory + (r.memory || 200 * 1024 * 1024);
  return { cpu: fraction(cpu, node.allocatable.milliCpu), mem: fraction(mem, node.allocatable.memory) };
}

/** Score: prefer nodes with the most free CPU and memory after placing the pod (LeastAllocated). */
export const leastAllocated: ScorePlugin = {
  name: "NodeResourcesLeastAllocated",
  weight: 1,
  score(pod, node) {
    const { cpu, mem } = withRequests(pod, node);
    return Math.floor(((1 - cpu + (1 - mem)) / 2) * 100);
  },
};

/** Score: prefer nodes whose CPU and memory use stay balanced (NodeResourcesBalancedAllocation). */
export const balancedAllocation: ScorePlugin = {
  name: "NodeResourcesBalancedAllocation",
  weight: 1,
  score(pod, node) {
    const { cpu, mem } = withRequests(pod, node);
    const mean = (cpu + mem) / 2;
    const std = Math.sqrt(((cpu - mean) ** 2 + (mem - mean) ** 2) / 2);
    return Math.floor((1 - std) * 100);
  },
};
