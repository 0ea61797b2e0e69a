import type { Pod } from "@tskube/api";
import { controllerRefOf, isPodReady, podReadyTime } from "../pod-util.js";

/** The annotation users set to say which pods to remove first on scale-down (lower goes first). */
export const POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost";

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/** An int32 annotation value; anything else counts as 0, as Kubernetes ignores an invalid cost. */
export function podDeletionCost(pod: Pod): number {
  const v = pod.metadata?.annotations?.[POD_DELETION_COST];
  if (v === undefined || !/^[+-]?\d+$/.test(v)) return 0;
  const n = Number(v);
  return n >= -2147483648 && n <= 2147483647 ? n : 0;
}

const time = (s: string | undefined) => (s ? Date.parse(s) : 0);
const maxRestarts = (p: Pod) =>
  Math.max(0, ...(p.status?.containerStatuses ?? []).map((c) => c.restartCount));

/** afterOrZero: a missing time sorts first, then the later time. */
function afterOrZero(t1: number, t2: number): boolean {
  if (t1 === 0 || t2 === 0) return t1 === 0;
  return t1 > t2;
}

/**
 * controller.ActivePodsWithRanks.Less: does pod a go before pod b on scale-down? The cheapest pod
 * to lose goes first: one not yet on a node, then Pending before Unknown before Running, not
 * ready before ready, lower pod-deletion-cost, more replicas sharing its node (rank), ready for a
 * shorter time, more container restarts, and finally the newer pod.
 */
export function deletesBefore(a: Pod, rankA: number, b: Pod, rankB: number): boolean {
  const na = a.spec?.nodeName ?? "";
  const nb = b.spec?.nodeName ?? "";
  if (na !== nb && (na === "" || nb === "")) return na === "";
  const pa = PHASE_ORDINAL[a.status?.phase ?? ""] ?? 0;
  const pb = PHASE_ORDINAL[b.status?.phase ?? ""] ?? 0;
  if (pa !== pb) return pa < pb;
  const ra = isPodReady(a);
  const rb = isPodReady(b);
  if (ra !== rb) return !ra;
  const ca = podDeletionCost(a);
  const cb = podDeletionCost(b);
  if (ca !== cb) return ca < cb;
  if (rankA !== rankB) return rankA > rankB;
  if (ra && rb) {
    const ta = podReadyTime(a);
    const tb = podReadyTime(b);
    if (ta !== tb) return afterOrZero(ta, tb);
  }
  const xa = maxRestarts(a);
  const xb = maxRestarts(b);
  if (xa !== xb) return xa > xb;
  const ka = time(a.metadata?.creationTimestamp);
  const kb = time(b.metadata?.creationTimestamp);
  if (ka !== kb) return afterOrZero(ka, kb);
  return false;
}

/**
 * getPodsToDelete: the `count` pods to remove from `pods`. A pod's rank is how many of the related
 * pods (every pod of the ReplicaSets sharing this one's owner, so the old and new ReplicaSets of a
 * Deployment) run on its node: scaling down where replicas are doubled up keeps them spread.
 */
export function podsToDelete(pods: readonly Pod[], related: readonly Pod[], count: number): Pod[] {
  if (count >= pods.length) return [...pods];
  const onNode = new Map<string, number>();
  for (const p of related) {
    const node = p.spec?.nodeName ?? "";
    onNode.set(node, (onNode.get(node) ?? 0) + 1);
  }
  const ranked = pods.map((pod) => ({ pod, rank: onNode.get(pod.spec?.nodeName ?? "") ?? 0 }));
  ranked.sort((x, y) =>
    deletesBefore(x.pod, x.rank, y.pod, y.rank) ? -1 : deletesBefore(y.pod, y.rank, x.pod, x.rank) ? 1 : 0,
  );
  return ranked.slice(0, count).map((r) => r.pod);
}

/** The uid of the pod's controlling ReplicaSet, or "". */
export const controllerUid = (p: Pod): string => controllerRefOf(p)?.uid ?? "";
