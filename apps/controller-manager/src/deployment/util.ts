import { type Deployment, DeploymentCondition, type DeploymentStatus, type ReplicaSet } from "@tskube/api";
import { getScaledValueFromIntOrPercent } from "@tskube/machinery";
import { rfc3339 } from "../pod-util.js";

export const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";
export const REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history";
export const DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas";
export const MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas";
/** Annotations of a Deployment that are not copied to its ReplicaSets (annotationsToSkip). */
const SKIPPED_ANNOTATIONS = new Set([
  "kubectl.kubernetes.io/last-applied-configuration",
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  "deprecated.deployment.rollback.to",
]);
/** Kubernetes caps revision-history at this many characters (MaxRevHistoryLengthInChars). */
const MAX_REVISION_HISTORY_CHARS = 2000;

// Condition reasons, as deploymentutil names them.
export const REASON = {
  newRSAvailable: "NewReplicaSetAvailable",
  timedOut: "ProgressDeadlineExceeded",
  rsUpdated: "ReplicaSetUpdated",
  foundNewRS: "FoundNewReplicaSet",
  newRSCreated: "NewReplicaSetCreated",
  failedRSCreate: "ReplicaSetCreateError",
  paused: "DeploymentPaused",
  resumed: "DeploymentResumed",
  minimumAvailable: "MinimumReplicasAvailable",
  minimumUnavailable: "MinimumReplicasUnavailable",
} as const;

export const replicasOf = (o: { spec?: { replicas?: number | undefined } | undefined } | undefined): number =>
  o?.spec?.replicas ?? 1;

export const isRollingUpdate = (d: Deployment): boolean =>
  (d.spec?.strategy?.type || "RollingUpdate") === "RollingUpdate";

/**
 * deploymentutil.ResolveFenceposts: maxSurge rounds up, maxUnavailable rounds down (so 25 % of 8
 * is 2 and 2, of 10 is 3 and 2), and when both come to 0 one pod may be unavailable, or a rollout
 * could never start.
 */
export function resolveFenceposts(
  maxSurge: string,
  maxUnavailable: string,
  desired: number,
): [number, number] {
  const surge = getScaledValueFromIntOrPercent(maxSurge || "0", desired, true);
  let unavailable = getScaledValueFromIntOrPercent(maxUnavailable || "0", desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return [surge, unavailable];
}

export function maxSurge(d: Deployment): number {
  if (!isRollingUpdate(d)) return 0;
  const ru = d.spec?.strategy?.rollingUpdate;
  return resolveFenceposts(ru?.maxSurge ?? "25%", ru?.maxUnavailable ?? "25%", replicasOf(d))[0];
}

export function maxUnavailable(d: Deployment): number {
  const replicas = replicasOf(d);
  if (!isRollingUpdate(d) || replicas === 0) return 0;
  const ru = d.spec?.strategy?.rollingUpdate;
  const u = resolveFenceposts(ru?.maxSurge ?? "25%", ru?.maxUnavailable ?? "25%", replicas)[1];
  return Math.min(u, replicas);
}

/** Sum of spec.replicas: the pods these ReplicaSets are asked for. */
export const specReplicas = (sets: readonly (ReplicaSet | undefined)[]): number =>
  sets.reduce((n, rs) => n + (rs ? replicasOf(rs) : 0), 0);
/** Sum of status.replicas: the pods they have. */
export const actualReplicas = (sets: readonly (ReplicaSet | undefined)[]): number =>
  sets.reduce((n, rs) => n + (rs?.status?.replicas ?? 0), 0);
export const readyReplicas = (sets: readonly (ReplicaSet | undefined)[]): number =>
  sets.reduce((n, rs) => n + (rs?.status?.readyReplicas ?? 0), 0);
export const availableReplicas = (sets: readonly (ReplicaSet | undefined)[]): number =>
  sets.reduce((n, rs) => n + (rs?.status?.availableReplicas ?? 0), 0);

/** controller.FilterActiveReplicaSets: ReplicaSets asked for at least one pod. */
export const activeReplicaSets = (sets: readonly (ReplicaSet | undefined)[]): ReplicaSet[] =>
  sets.filter((rs): rs is ReplicaSet => !!rs && replicasOf(rs) > 0);

const created = (rs: ReplicaSet) => Date.parse(rs.metadata?.creationTimestamp || "") || 0;
/** ReplicaSetsByCreationTimestamp: oldest first, then by name. */
export const byCreation = (a: ReplicaSet, b: ReplicaSet): number =>
  created(a) - created(b) ||
  (a.metadata!.name < b.metadata!.name ? -1 : a.metadata!.name > b.metadata!.name ? 1 : 0);

export function revisionOf(rs: { metadata?: { annotations?: Record<string, string> } | undefined }): number {
  const v = rs.metadata?.annotations?.[REVISION_ANNOTATION];
  return v && /^\d+$/.test(v) ? Number(v) : 0;
}

export const maxRevision = (sets: readonly ReplicaSet[]): number => Math.max(0, ...sets.map(revisionOf));

/** ReplicaSetsByRevision: lowest revision first, then oldest. */
export const byRevision = (a: ReplicaSet, b: ReplicaSet): number =>
  revisionOf(a) - revisionOf(b) || byCreation(a, b);

/**
 * The available pods a rollout may count on in one ReplicaSet: never more than it is asked for.
 * Right after a scale-down the ReplicaSet's status still counts the pods it is deleting (its
 * controller wrote the status from the pods it had before); counting them would let the next
 * sync scale down again and go below minAvailable.
 */
export const usableAvailable = (rs: ReplicaSet): number =>
  Math.min(rs.status?.availableReplicas ?? 0, replicasOf(rs));

/**
 * deploymentutil.NewRSNewReplicas: how big the new ReplicaSet may be now. A rolling update adds up
 * to maxSurge pods above the desired count in total; Recreate goes straight to the desired count.
 */
export function newRSNewReplicas(
  d: Deployment,
  allRSs: readonly (ReplicaSet | undefined)[],
  newRS: ReplicaSet,
): number {
  const replicas = replicasOf(d);
  if (!isRollingUpdate(d)) return replicas;
  const maxTotal = replicas + maxSurge(d);
  const current = specReplicas(allRSs);
  if (current >= maxTotal) return replicasOf(newRS);
  const up = Math.min(maxTotal - current, replicas - replicasOf(newRS));
  return replicasOf(newRS) + up;
}

/**
 * The room reconcileOldReplicaSets has: pods beyond minAvailable, minus new pods that are not
 * available yet (they may never become so, and the old ones must cover for them).
 */
export function maxScaledDown(d: Deployment, allRSs: readonly ReplicaSet[], newRS: ReplicaSet): number {
  const minAvailable = replicasOf(d) - maxUnavailable(d);
  const newUnavailable = replicasOf(newRS) - usableAvailable(newRS);
  return specReplicas(allRSs) - minAvailable - newUnavailable;
}

/**
 * cleanupUnhealthyReplicas as a plan: old ReplicaSets (oldest first) lose their unavailable pods
 * first, up to maxCleanup in total, since removing them costs no availability.
 */
export function planCleanupUnhealthy(oldRSs: readonly ReplicaSet[], maxCleanup: number): Map<string, number> {
  const plan = new Map<string, number>();
  let total = 0;
  for (const rs of [...oldRSs].sort(byCreation)) {
    if (total >= maxCleanup) break;
    const want = replicasOf(rs);
    const available = usableAvailable(rs);
    if (want === 0 || want === available) continue;
    const down = Math.min(maxCleanup - total, want - available);
    plan.set(rs.metadata!.name, want - down);
    total += down;
  }
  return plan;
}

/**
 * scaleDownOldReplicaSetsForRollingUpdate as a plan: old ReplicaSets (oldest first) shrink by as
 * many pods as are available above minAvailable across all ReplicaSets.
 */
export function planScaleDownOld(
  d: Deployment,
  allRSs: readonly ReplicaSet[],
  oldRSs: readonly ReplicaSet[],
): Map<string, number> {
  const plan = new Map<string, number>();
  const minAvailable = replicasOf(d) - maxUnavailable(d);
  const available = allRSs.reduce((n, rs) => n + usableAvailable(rs), 0);
  if (available <= minAvailable) return plan;
  const totalDown = available - minAvailable;
  let total = 0;
  for (const rs of [...oldRSs].sort(byCreation)) {
    if (total >= totalDown) break;
    const want = replicasOf(rs);
    if (want === 0) continue;
    const down = Math.min(want, totalDown - total);
    plan.set(rs.metadata!.name, want - down);
    total += down;
  }
  return plan;
}

export function annotationInt(rs: ReplicaSet, key: string): number | undefined {
  const v = rs.metadata?.annotations?.[key];
  return v !== undefined && /^-?\d+$/.test(v) ? Number(v) : undefined;
}

/** deploymentutil.IsSaturated: the new ReplicaSet is at full size and fully available. */
export function isSaturated(d: Deployment, rs: ReplicaSet | undefined): boolean {
  if (!rs) return false;
  const replicas = replicasOf(d);
  return (
    annotationInt(rs, DESIRED_REPLICAS_ANNOTATION) === replicas &&
    replicasOf(rs) === replicas &&
    (rs.status?.availableReplicas ?? 0) === replicas
  );
}

/**
 * getReplicaSetFraction/GetProportion: a ReplicaSet's share of a resize, relative to the
 * Deployment size it was last scaled for (max-replicas annotation), so a scale during a rollout
 * keeps old and new in proportion. Rounded half away from zero, as Go's math.Round.
 */
export function proportion(rs: ReplicaSet, d: Deployment, toAdd: number, added: number): number {
  if (replicasOf(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  let fraction: number;
  if (replicasOf(d) === 0) fraction = -replicasOf(rs);
  else {
    const deploymentReplicas = replicasOf(d) + maxSurge(d);
    const annotated = annotationInt(rs, MAX_REPLICAS_ANNOTATION) ?? d.status?.replicas ?? 0;
    const size = (replicasOf(rs) * deploymentReplicas) / annotated;
    fraction = roundHalfAway(size) - replicasOf(rs);
  }
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

const roundHalfAway = (x: number): number => Math.sign(x) * Math.round(Math.abs(x));

/**
 * The target size of every active ReplicaSet when the Deployment was resized mid-rollout
 * (DeploymentController.scale, rolling case): the difference to replicas + maxSurge is shared in
 * proportion, leftovers go to the first (largest) ReplicaSet.
 */
export function planProportionalScale(d: Deployment, active: readonly ReplicaSet[]): Map<string, number> {
  const allowed = replicasOf(d) > 0 ? replicasOf(d) + maxSurge(d) : 0;
  const toAdd = allowed - specReplicas(active);
  const sets = [...active];
  if (toAdd > 0) sets.sort((a, b) => replicasOf(b) - replicasOf(a) || byCreation(b, a));
  else if (toAdd < 0) sets.sort((a, b) => replicasOf(b) - replicasOf(a) || byCreation(a, b));
  const size = new Map<string, number>();
  let added = 0;
  for (const rs of sets) {
    const p = toAdd !== 0 ? proportion(rs, d, toAdd, added) : 0;
    size.set(rs.metadata!.name, replicasOf(rs) + p);
    added += p;
  }
  if (sets.length > 0 && toAdd !== 0) {
    const first = sets[0]!.metadata!.name;
    size.set(first, Math.max(0, size.get(first)! + toAdd - added));
  }
  return size;
}

/**
 * SetNewReplicaSetAnnotations: copies the Deployment's annotations, moves the ReplicaSet to
 * newRevision when that is higher (remembering the old number in revision-history, which is how
 * a rolled-back-to template loses its old number), and on creation records the desired and max
 * replicas. Returns whether anything changed.
 */
export function setNewReplicaSetAnnotations(
  d: Deployment,
  rs: ReplicaSet,
  newRevision: number,
  exists: boolean,
): boolean {
  const ann = rs.metadata!.annotations;
  let changed = false;
  for (const [k, v] of Object.entries(d.metadata?.annotations ?? {})) {
    if (SKIPPED_ANNOTATIONS.has(k) || ann[k] === v) continue;
    ann[k] = v;
    changed = true;
  }
  const old = ann[REVISION_ANNOTATION];
  const oldRevision = old && /^\d+$/.test(old) ? Number(old) : 0;
  if (oldRevision < newRevision) {
    ann[REVISION_ANNOTATION] = String(newRevision);
    changed = true;
    if (old) {
      const history = ann[REVISION_HISTORY_ANNOTATION] ? ann[REVISION_HISTORY_ANNOTATION].split(",") : [];
      history.push(old);
      while (history.join(",").length > MAX_REVISION_HISTORY_CHARS) history.shift();
      ann[REVISION_HISTORY_ANNOTATION] = history.join(",");
    }
  }
  if (!exists && setReplicasAnnotations(rs, replicasOf(d), replicasOf(d) + maxSurge(d))) changed = true;
  return changed;
}

/** SetReplicasAnnotations: desired-replicas and max-replicas, which proportional scaling reads. */
export function setReplicasAnnotations(rs: ReplicaSet, desired: number, max: number): boolean {
  const ann = rs.metadata!.annotations;
  if (ann[DESIRED_REPLICAS_ANNOTATION] === String(desired) && ann[MAX_REPLICAS_ANNOTATION] === String(max))
    return false;
  ann[DESIRED_REPLICAS_ANNOTATION] = String(desired);
  ann[MAX_REPLICAS_ANNOTATION] = String(max);
  return true;
}

export function getCondition(
  status: DeploymentStatus | undefined,
  type: string,
): DeploymentCondition | undefined {
  return status?.conditions.find((c) => c.type === type);
}

export function newCondition(
  type: string,
  status: string,
  reason: string,
  message: string,
  now: number,
): DeploymentCondition {
  const t = rfc3339(now);
  return DeploymentCondition.fromPartial({
    type,
    status,
    reason,
    message,
    lastUpdateTime: t,
    lastTransitionTime: t,
  });
}

/**
 * deploymentutil.SetDeploymentCondition: the same status and reason is no change at all; the same
 * status with another reason keeps the transition time.
 */
export function setCondition(status: DeploymentStatus, c: DeploymentCondition): void {
  const cur = getCondition(status, c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return;
  const next = cur && cur.status === c.status ? { ...c, lastTransitionTime: cur.lastTransitionTime } : c;
  status.conditions = [...status.conditions.filter((x) => x.type !== c.type), next];
}

export function removeCondition(status: DeploymentStatus, type: string): void {
  status.conditions = status.conditions.filter((c) => c.type !== type);
}

/** HasProgressDeadline: set and not MaxInt32 (Kubernetes' "no deadline"). */
export const hasProgressDeadline = (d: Deployment): boolean =>
  d.spec?.progressDeadlineSeconds !== undefined && d.spec.progressDeadlineSeconds !== 2147483647;

/** DeploymentComplete: every replica updated and available, and the latest spec observed. */
export function deploymentComplete(d: Deployment, s: DeploymentStatus): boolean {
  const r = replicasOf(d);
  return (
    s.updatedReplicas === r &&
    s.replicas === r &&
    s.availableReplicas === r &&
    s.observedGeneration >= (d.metadata?.generation ?? 0)
  );
}

/** DeploymentProgressing: more updated, fewer old, more ready or more available pods than before. */
export function deploymentProgressing(d: Deployment, s: DeploymentStatus): boolean {
  const old = d.status;
  const oldOld = (old?.replicas ?? 0) - (old?.updatedReplicas ?? 0);
  const newOld = s.replicas - s.updatedReplicas;
  return (
    s.updatedReplicas > (old?.updatedReplicas ?? 0) ||
    newOld < oldOld ||
    s.readyReplicas > (old?.readyReplicas ?? 0) ||
    s.availableReplicas > (old?.availableReplicas ?? 0)
  );
}

/** DeploymentTimedOut: no progress for progressDeadlineSeconds since the condition last changed. */
export function deploymentTimedOut(d: Deployment, s: DeploymentStatus, now: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getCondition(s, "Progressing");
  if (!c || c.reason === REASON.newRSAvailable) return false;
  if (c.reason === REASON.timedOut) return true;
  const from = Date.parse(c.lastUpdateTime) || 0;
  return from + d.spec!.progressDeadlineSeconds! * 1000 < now;
}
