import { type KubeObject, type Pod, PodCondition, PodStatus } from "@tskube/api";
import { errors, field, isDNS1123Subdomain } from "@tskube/machinery";
import { type Registry, rfc3339 } from "./registry.js";

const GR = { group: "", resource: "pods", kind: "Pod" };

export interface BindRequest {
  namespace: string;
  name: string;
  uid: string;
  targetNode: string;
}

/**
 * Kubernetes' pods/binding: sets spec.nodeName of an unassigned pod and its PodScheduled condition
 * in one write. The client sends only names, so a binding costs the apiserver a read-modify-write of
 * two fields instead of decoding, defaulting and validating a whole pod update.
 */
export async function bindPod(
  pods: Registry,
  req: BindRequest,
  now: () => Date = () => new Date(),
): Promise<KubeObject> {
  const target = req.targetNode;
  if (!target)
    throw errors.invalid({ group: "", resource: "bindings", kind: "Binding" }, req.name, [
      field.required("target.name", ""),
    ]);
  const bad = isDNS1123Subdomain(target);
  if (bad.length)
    throw errors.invalid(
      { group: "", resource: "bindings", kind: "Binding" },
      req.name,
      bad.map((e) => field.invalid("target.name", target, e)),
    );
  return pods.mutate(req.namespace, req.name, (obj) => {
    const pod = obj as Pod;
    const m = pod.metadata!;
    if (req.uid && req.uid !== m.uid)
      throw errors.conflict(
        GR,
        req.name,
        `Precondition failed: UID in precondition: ${req.uid}, UID in object meta: ${m.uid}`,
      );
    if (m.deletionTimestamp)
      throw errors.conflict(GR, req.name, `pod ${req.name} is being deleted, cannot be assigned to a host`);
    if (pod.spec?.nodeName)
      throw errors.conflict(
        GR,
        req.name,
        `pod ${req.name} is already assigned to node "${pod.spec.nodeName}"`,
      );
    pod.spec!.nodeName = target;
    pod.status ??= PodStatus.fromPartial({});
    const status = pod.status;
    const at = rfc3339(now());
    const existing = status.conditions.find((c) => c.type === "PodScheduled");
    if (existing) {
      if (existing.status !== "True") existing.lastTransitionTime = at;
      existing.status = "True";
      existing.reason = "";
      existing.message = "";
    } else {
      status.conditions.push(
        PodCondition.fromPartial({ type: "PodScheduled", status: "True", lastTransitionTime: at }),
      );
    }
    return pod;
  });
}
