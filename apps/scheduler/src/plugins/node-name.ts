import { type FilterPlugin, skip, success, unresolvable } from "../framework/types.js";

/** Filter: a pod that names its node (spec.nodeName) only fits that node. */
export const nodeName: FilterPlugin = {
  name: "NodeName",
  preFilter: (pod) => (pod.spec?.nodeName ? success : skip),
  filter(pod, node) {
    const want = pod.spec?.nodeName;
    return !want || want === node.name
      ? success
      : unresolvable("node(s) didn't match the requested node name");
  },
};
