import { type FilterPlugin, success, unresolvable } from "../framework/types.js";
import { tolerates } from "./taint-toleration.js";

/** The taint a cordoned node behaves as if it had (v1.TaintNodeUnschedulable). */
const unschedulableTaint = { key: "node.kubernetes.io/unschedulable", value: "", effect: "NoSchedule" };

/** Filter: cordoned nodes take no new pods unless the pod tolerates the unschedulable taint. */
export const nodeUnschedulable: FilterPlugin = {
  name: "NodeUnschedulable",
  filter(pod, node) {
    if (!node.node.spec?.unschedulable) return success;
    return (pod.spec?.tolerations ?? []).some((t) => tolerates(t, unschedulableTaint))
      ? success
      : unresolvable("node(s) were unschedulable");
  },
};
