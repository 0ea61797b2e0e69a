import { type Node, type NodeCondition, Taint, type Toleration } from "@tskube/api";

/** Kubernetes' well-known node taints (k8s.io/api/core/v1 well_known_taints.go). */
export const TAINT_NODE_NOT_READY = "node.kubernetes.io/not-ready";
export const TAINT_NODE_UNREACHABLE = "node.kubernetes.io/unreachable";
export const TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable";
export const TAINT_NODE_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure";
export const TAINT_NODE_DISK_PRESSURE = "node.kubernetes.io/disk-pressure";
export const TAINT_NODE_PID_PRESSURE = "node.kubernetes.io/pid-pressure";
export const TAINT_NODE_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable";

export type TaintLike = Pick<Taint, "key" | "value" | "effect">;

export const sameTaint = (a: TaintLike, b: TaintLike): boolean => a.key === b.key && a.effect === b.effect;

/** v1.Toleration.ToleratesTaint: empty effect and Exists without key match everything. */
export function tolerates(t: Toleration, taint: TaintLike): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (!t.key && t.operator !== "Exists") return false;
  if (t.operator === "Exists") return true;
  return (t.value ?? "") === (taint.value ?? "");
}

export function noExecuteTaints(node: Node | undefined): Taint[] {
  return (node?.spec?.taints ?? []).filter((t) => t.effect === "NoExecute");
}

export function condition(node: Node | undefined, type: string): NodeCondition | undefined {
  return node?.status?.conditions.find((c) => c.type === type);
}

/**
 * The NoSchedule taints Kubernetes' TaintNodesByCondition keeps in step with the node's
 * conditions (nodeConditionToTaintKeyStatusMap) and spec.unschedulable: the scheduler then keeps
 * new pods off a node that cannot run them, while the NoExecute taints decide about running ones.
 */
export function conditionTaints(node: Node): Taint[] {
  const out: Taint[] = [];
  const add = (key: string) => out.push(Taint.fromPartial({ key, effect: "NoSchedule" }));
  const ready = condition(node, "Ready")?.status;
  if (ready === "False") add(TAINT_NODE_NOT_READY);
  if (ready === "Unknown") add(TAINT_NODE_UNREACHABLE);
  if (condition(node, "MemoryPressure")?.status === "True") add(TAINT_NODE_MEMORY_PRESSURE);
  if (condition(node, "DiskPressure")?.status === "True") add(TAINT_NODE_DISK_PRESSURE);
  if (condition(node, "PIDPressure")?.status === "True") add(TAINT_NODE_PID_PRESSURE);
  if (condition(node, "NetworkUnavailable")?.status === "True") add(TAINT_NODE_NETWORK_UNAVAILABLE);
  if (node.spec?.unschedulable) add(TAINT_NODE_UNSCHEDULABLE);
  return out;
}

/** The keys of NoSchedule taints the node lifecycle controller owns (and so may remove). */
export const CONDITION_TAINT_KEYS = [
  TAINT_NODE_NOT_READY,
  TAINT_NODE_UNREACHABLE,
  TAINT_NODE_MEMORY_PRESSURE,
  TAINT_NODE_DISK_PRESSURE,
  TAINT_NODE_PID_PRESSURE,
  TAINT_NODE_NETWORK_UNAVAILABLE,
  TAINT_NODE_UNSCHEDULABLE,
];
