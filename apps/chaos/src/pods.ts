import type { Deployment, Node, Pod, ReplicaSet } from "@tskube/api";
import { getScaledValueFromIntOrPercent } from "@tskube/machinery";

export const isTerminating = (p: Pod) => Boolean(p.metadata?.deletionTimestamp);
export const isTerminal = (p: Pod) => p.status?.phase === "Succeeded" || p.status?.phase === "Failed";
/** A pod its ReplicaSet counts (Kubernetes' FilterActivePods): not finished, not being deleted. */
export const isActive = (p: Pod) => !isTerminating(p) && !isTerminal(p);
export const isPodReady = (p: Pod) =>
  p.status?.phase === "Running" &&
  (p.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
export const isNodeReady = (n: Node) =>
  (n.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

export function controllerOf(obj: {
  metadata?:
    | { ownerReferences?: { uid: string; kind: string; controller?: boolean | undefined }[] }
    | undefined;
}) {
  return obj.metadata?.ownerReferences?.find((o) => o.controller);
}

export function nodeAddress(n: Node): string {
  const a = n.status?.addresses ?? [];
  return (
    a.find((x) => x.type === "InternalIP")?.address ??
    a.find((x) => x.type === "Hostname")?.address ??
    n.metadata?.name ??
    ""
  );
}

/**
 * The most pods a ReplicaSet may have at once: its replicas plus its Deployment's maxSurge
 * (Kubernetes' rolling update rounds the surge up; Recreate surges nothing; default 25%).
 */
export function surgeLimit(rs: ReplicaSet, deployments: readonly Deployment[]): number {
  const replicas = rs.spec?.replicas ?? 1;
  const owner = controllerOf(rs);
  const d = owner?.kind === "Deployment" ? deployments.find((x) => x.metadata?.uid === owner.uid) : undefined;
  if (!d) return replicas;
  if (d.spec?.strategy?.type === "Recreate") return replicas;
  const surge = d.spec?.strategy?.rollingUpdate?.maxSurge || "25%";
  return replicas + getScaledValueFromIntOrPercent(surge, d.spec?.replicas ?? 1, true);
}

export interface DuplicateSample {
  replicaSet: string;
  active: number;
  limit: number;
}

/** ReplicaSets with more active pods than replicas + maxSurge right now. */
export function duplicatePods(
  replicaSets: readonly ReplicaSet[],
  pods: readonly Pod[],
  deployments: readonly Deployment[],
): DuplicateSample[] {
  const active = new Map<string, number>();
  for (const p of pods) {
    const owner = controllerOf(p);
    if (owner?.kind === "ReplicaSet" && isActive(p)) active.set(owner.uid, (active.get(owner.uid) ?? 0) + 1);
  }
  const out: DuplicateSample[] = [];
  for (const rs of replicaSets) {
    const n = active.get(rs.metadata?.uid ?? "") ?? 0;
    const limit = surgeLimit(rs, deployments);
    if (n > limit)
      out.push({ replicaSet: `${rs.metadata?.namespace}/${rs.metadata?.name}`, active: n, limit });
  }
  return out;
}
