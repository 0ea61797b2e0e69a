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
  // Informer objects are replaced, never mutated, on change: safe to remember per object.
  const cached = requestsCache.get(pod);
  if (cached) return cached;
  const sum = { milliCpu: 0, memory: 0, pods: 1 };
  for (const c of pod.spec?.containers ?? []) {
    sum.milliCpu += milli(c.resources?.requests.cpu);
    sum.memory += bytes(c.resources?.requests.memory);
  }
  for (const c of pod.spec?.initContainers ?? []) {
    sum.milliCpu = Math.max(sum.milliCpu, milli(c.resources?.requests.cpu));
    sum.memory = Math.max(sum.memory, bytes(c.resources?.requests.memory));
  }
  requestsCache.set(pod, sum);
  return sum;
}

const requestsCache = new WeakMap<Pod, Resources>();

export function nodeAllocatable(node: Node): Resources {
  const cached = allocatableCache.get(node);
  if (cached) return cached;
  const a = node.status?.allocatable ?? {};
  const c = node.status?.capacity ?? {};
  const r = {
    milliCpu: milli(a.cpu ?? c.cpu),
    memory: bytes(a.memory ?? c.memory),
    pods: Number(a.pods ?? c.pods ?? 110) || 0,
  };
  allocatableCache.set(node, r);
  return r;
}

const allocatableCache = new WeakMap<Node, Resources>();
