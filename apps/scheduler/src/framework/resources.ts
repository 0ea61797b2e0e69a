import type { Node, Pod } from "@tskube/api";
import { parseQuantity } from "@tskube/machinery";
import type { Resources } from "./types.js";

function milli(v: string | undefined): number {
  if (!v) return 0;
  try {
    return parseQuantity(v).milliValue();
  } catch {
    return 0;
  }
}

function bytes(v: string | undefined): number {
  if (!v) return 0;
  try {
    return parseQuantity(v).value();
  } catch {
    return 0;
  }
}

/**
 * A pod's effective requests (Kubernetes' computePodResourceRequest): the sum over app containers,
 * or the largest init container when that is larger, since init containers run one at a time.
 */
export function podRequests(pod: Pod): Resources {
  const sum = { milliCpu: 0, memory: 0, pods: 1 };
  for (const c of pod.spec?.containers ?? []) {
    sum.milliCpu += milli(c.resources?.requests.cpu);
    sum.memory += bytes(c.resources?.requests.memory);
  }
  for (const c of pod.spec?.initContainers ?? []) {
    sum.milliCpu = Math.max(sum.milliCpu, milli(c.resources?.requests.cpu));
    sum.memory = Math.max(sum.memory, bytes(c.resources?.requests.memory));
  }
  return sum;
}

export function nodeAllocatable(node: Node): Resources {
  const a = node.status?.allocatable ?? {};
  const c = node.status?.capacity ?? {};
  return {
    milliCpu: milli(a.cpu ?? c.cpu),
    memory: bytes(a.memory ?? c.memory),
    pods: Number(a.pods ?? c.pods ?? 110) || 0,
  };
}
