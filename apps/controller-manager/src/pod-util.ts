import type { KubeObject, OwnerReference, Pod } from "@tskube/api";

/** podutil.IsPodReady: the Ready condition is True. */
export function isPodReady(pod: Pod): boolean {
  return pod.status?.conditions.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** When the pod last became ready (0 when it is not ready or the time is unknown). */
export function podReadyTime(pod: Pod): number {
  const c = pod.status?.conditions.find((x) => x.type === "Ready" && x.status === "True");
  return c?.lastTransitionTime ? Date.parse(c.lastTransitionTime) : 0;
}

/**
 * podutil.IsPodAvailable: ready for at least minReadySeconds. A ready pod without a transition
 * time counts as available only when minReadySeconds is 0.
 */
export function isPodAvailable(pod: Pod, minReadySeconds: number, now: number): boolean {
  if (!isPodReady(pod)) return false;
  if (minReadySeconds === 0) return true;
  const t = podReadyTime(pod);
  return t > 0 && t + minReadySeconds * 1000 <= now;
}

/**
 * controller.FilterActivePods: pods that still count towards a ReplicaSet's replicas. Finished pods
 * and pods being deleted are already on their way out; counting them would block replacements.
 */
export function isPodActive(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase !== "Succeeded" && phase !== "Failed" && !pod.metadata?.deletionTimestamp;
}

export function controllerRefOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller);
}

export const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
