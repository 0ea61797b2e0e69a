import { type Pod, type ReplicaSet, ReplicaSetCondition, type ReplicaSetStatus } from "@tskube/api";
import { selectorFromSet } from "@tskube/machinery";
import { isPodAvailable, isPodReady, rfc3339 } from "../pod-util.js";

/**
 * calculateStatus: the counts of the ReplicaSet's active pods as the controller saw them, and the
 * ReplicaFailure condition while creating or deleting pods fails (FailedCreate / FailedDelete with
 * the error), cleared once a sync manages replicas again.
 */
export function calculateStatus(
  rs: ReplicaSet,
  pods: readonly Pod[],
  manageError: { reason: "FailedCreate" | "FailedDelete"; message: string } | undefined,
  now: number,
): ReplicaSetStatus {
  const templateLabels = selectorFromSet(rs.spec?.template?.metadata?.labels ?? {});
  const minReady = rs.spec?.minReadySeconds ?? 0;
  let fullyLabeled = 0;
  let ready = 0;
  let available = 0;
  for (const pod of pods) {
    if (templateLabels.matches(pod.metadata?.labels ?? {})) fullyLabeled++;
    if (isPodReady(pod)) {
      ready++;
      if (isPodAvailable(pod, minReady, now)) available++;
    }
  }
  let conditions = [...(rs.status?.conditions ?? [])];
  const failure = conditions.find((c) => c.type === "ReplicaFailure");
  if (manageError && !failure) {
    conditions.push(
      ReplicaSetCondition.fromPartial({
        type: "ReplicaFailure",
        status: "True",
        lastTransitionTime: rfc3339(now),
        reason: manageError.reason,
        message: manageError.message,
      }),
    );
  } else if (!manageError && failure) {
    conditions = conditions.filter((c) => c.type !== "ReplicaFailure");
  }
  return {
    $type: "tskube.v1.ReplicaSetStatus",
    replicas: pods.length,
    fullyLabeledReplicas: fullyLabeled,
    readyReplicas: ready,
    availableReplicas: available,
    observedGeneration: rs.status?.observedGeneration ?? 0,
    conditions,
  };
}

export function sameStatus(a: ReplicaSetStatus | undefined, b: ReplicaSetStatus): boolean {
  return (
    !!a &&
    a.replicas === b.replicas &&
    a.fullyLabeledReplicas === b.fullyLabeledReplicas &&
    a.readyReplicas === b.readyReplicas &&
    a.availableReplicas === b.availableReplicas &&
    a.observedGeneration === b.observedGeneration &&
    JSON.stringify(a.conditions) === JSON.stringify(b.conditions)
  );
}
