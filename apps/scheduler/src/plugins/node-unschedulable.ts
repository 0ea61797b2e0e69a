import { type FilterPlugin, success, unresolvable } from "../framework/types.js";
import { tolerates } from "./taint-toleration.js";

/** Filter: cordoned nodes take no new pods unless the pod tolerates the unschedulable taint. */
export const nodeUnschedulable: FilterPlugin = {
  name: "NodeUnschedulable",
  filter(pod, node) {
    if (!node.node.spec?.unschedulable) return success;
    const taint = { key: "node.kubernetes.io/unschedulable", value: "", effect: "NoSchedule" };
    return (pod.spec?.tolerations ?? []).some((t) => tolerates(t, taint))
      ? success
      : unresolvable("node(s) were unschedulable");
  },
};
