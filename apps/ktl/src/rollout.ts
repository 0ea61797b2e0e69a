import type { Deployment, PodTemplateSpec, ReplicaSet } from "@tskube/api";

/** Kubernetes' annotations and labels that rollout commands read and write. */
export const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";
export const CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause";
export const RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt";
export const POD_TEMPLATE_HASH_LABEL = "pod-template-hash";

/** Annotations a rollback keeps from the Deployment instead of taking them from the ReplicaSet. */
const ANNOTATIONS_TO_SKIP = new Set([
  "kubectl.kubernetes.io/last-applied-configuration",
  REVISION_ANNOTATION,
  "deployment.kubernetes.io/revision-history",
  "deployment.kubernetes.io/desired-replicas",
  "deployment.kubernetes.io/max-replicas",
  "deprecated.deployment.rollback.to",
]);

export const revisionOf = (o: {
  metadata?: { annotations?: Record<string, string> } | undefined;
}): number => {
  const v = Number(o.metadata?.annotations?.[REVISION_ANNOTATION] ?? "");
  return Number.isSafeInteger(v) && v > 0 ? v : 0;
};

export interface RolloutStatus {
  message: string;
  done: boolean;
}

/**
 * One look at a Deployment's rollout, worded as `kubectl rollout status` words it. Throws when the
 * rollout failed (progress deadline exceeded) or is not at the revision asked for.
 */
export function deploymentRolloutStatus(d: Deployment, revision = 0): RolloutStatus {
  const name = d.metadata?.name ?? "";
  if (revision > 0) {
    const running = revisionOf(d);
    if (running !== revision)
      throw new Error(`desired revision (${revision}) is different from the running revision (${running})`);
  }
  const s = d.status;
  if ((d.metadata?.generation ?? 0) > (s?.observedGeneration ?? 0))
    return { message: "Waiting for deployment spec update to be observed...", done: false };
  const progressing = s?.conditions.find((c) => c.type === "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded")
    throw new Error(`deployment "${name}" exceeded its progress deadline`);
  const desired = d.spec?.replicas ?? 1;
  const updated = s?.updatedReplicas ?? 0;
  const total = s?.replicas ?? 0;
  const available = s?.availableReplicas ?? 0;
  const waiting = (what: string) => ({
    message: `Waiting for deployment "${name}" rollout to finish: ${what}...`,
    done: false,
  });
  if (updated < desired) return waiting(`${updated} out of ${desired} new replicas have been updated`);
  if (total > updated) return waiting(`${total - updated} old replicas are pending termination`);
  if (available < updated) return waiting(`${available} of ${updated} updated replicas are available`);
  return { message: `deployment "${name}" successfully rolled out`, done: true };
}

/** The ReplicaSets a Deployment controls (controller ownerReference), by revision. */
export function ownedReplicaSets(d: Deployment, sets: readonly ReplicaSet[]): ReplicaSet[] {
  const uid = d.metadata?.uid;
  return sets
    .filter((rs) => rs.metadata?.ownerReferences.some((o) => o.controller && o.uid === uid))
    .sort((a, b) => revisionOf(a) - revisionOf(b));
}

export interface HistoryEntry {
  revision: number;
  changeCause: string;
  template: PodTemplateSpec | undefined;
}

/** Revision → change cause and template, oldest first, as `rollout history` lists them. */
export function history(sets: readonly ReplicaSet[]): HistoryEntry[] {
  const byRevision = new Map<number, HistoryEntry>();
  for (const rs of sets) {
    const revision = revisionOf(rs);
    if (!revision) continue;
    byRevision.set(revision, {
      revision,
      changeCause: rs.metadata?.annotations[CHANGE_CAUSE_ANNOTATION] ?? "",
      template: rs.spec?.template,
    });
  }
  return [...byRevision.values()].sort((a, b) => a.revision - b.revision);
}

/** A template without the pod-template-hash label the controller adds, for comparison and rollback. */
export function withoutHash(t: PodTemplateSpec | undefined): PodTemplateSpec | undefined {
  if (!t) return t;
  const labels = { ...(t.metadata?.labels ?? {}) };
  delete labels[POD_TEMPLATE_HASH_LABEL];
  return { ...t, metadata: t.metadata ? { ...t.metadata, labels } : t.metadata };
}

export type RollbackPlan =
  | { kind: "skip"; revision: number }
  | { kind: "rollback"; revision: number; template: PodTemplateSpec; annotations: Record<string, string> };

/**
 * What `rollout undo [--to-revision N]` does: the ReplicaSet of that revision (default: the one
 * before the newest), its template without the hash label and its annotations merged with the
 * Deployment's own bookkeeping ones. The controller then gives the restored template a new revision.
 */
export function planRollback(
  d: Deployment,
  sets: readonly ReplicaSet[],
  toRevision: number,
  sameTemplate: (a: PodTemplateSpec | undefined, b: PodTemplateSpec | undefined) => boolean,
): RollbackPlan {
  const name = d.metadata?.name ?? "";
  if (d.spec?.paused)
    throw new Error(
      "you cannot rollback a paused deployment; resume it first with 'ktl rollout resume' and try again",
    );
  const owned = ownedReplicaSets(d, sets).filter((rs) => revisionOf(rs) > 0);
  if (owned.length === 0) throw new Error(`no rollout history found for deployment "${name}"`);
  let target: ReplicaSet | undefined;
  if (toRevision > 0) {
    target = owned.find((rs) => revisionOf(rs) === toRevision);
    if (!target) throw new Error(`unable to find specified revision ${toRevision} in history`);
  } else {
    // The previous revision: the highest below the newest.
    const newest = revisionOf(owned[owned.length - 1]!);
    target = [...owned].reverse().find((rs) => revisionOf(rs) < newest);
    if (!target) throw new Error(`no revision found for deployment "${name}"`);
  }
  const revision = revisionOf(target);
  const template = withoutHash(target.spec?.template);
  if (!template) throw new Error(`revision ${revision} of deployment "${name}" has no pod template`);
  if (sameTemplate(withoutHash(d.spec?.template), template)) return { kind: "skip", revision };
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.metadata?.annotations ?? {}))
    if (ANNOTATIONS_TO_SKIP.has(k)) annotations[k] = v;
  for (const [k, v] of Object.entries(target.metadata?.annotations ?? {}))
    if (!ANNOTATIONS_TO_SKIP.has(k)) annotations[k] = v;
  return { kind: "rollback", revision, template, annotations };
}
