import type { Node, NodeSelectorRequirement, NodeSelectorTerm, Pod } from "@tskube/api";
import {
  type CycleState,
  defaultNormalize,
  type FilterPlugin,
  preState,
  type ScorePlugin,
  skip,
  success,
  unresolvable,
} from "../framework/types.js";

function matchRequirement(
  r: NodeSelectorRequirement,
  labels: Record<string, string>,
  fields: Record<string, string>,
  isField: boolean,
): boolean {
  const source = isField ? fields : labels;
  const has = Object.hasOwn(source, r.key);
  const v = source[r.key] ?? "";
  switch (r.operator) {
    case "In":
      return has && r.values.includes(v);
    case "NotIn":
      return !has || !r.values.includes(v);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
    case "Gt":
      return has && /^-?\d+$/.test(v) && Number(v) > Number(r.values[0]);
    case "Lt":
      return has && /^-?\d+$/.test(v) && Number(v) < Number(r.values[0]);
    default:
      return false;
  }
}

/** A term matches when all its expressions and field expressions match (terms are ORed). */
export function matchTerm(term: NodeSelectorTerm, node: Node): boolean {
  if (term.matchExpressions.length === 0 && term.matchFields.length === 0) return false;
  const labels = node.metadata?.labels ?? {};
  const fields = { "metadata.name": node.metadata?.name ?? "" };
  return (
    term.matchExpressions.every((r) => matchRequirement(r, labels, fields, false)) &&
    term.matchFields.every((r) => matchRequirement(r, labels, fields, true))
  );
}

/** PreFilter state: the pod's nodeSelector pairs and required terms, read once per attempt. */
function preFilter(pod: Pod): { selector: [string, string][]; terms: NodeSelectorTerm[] } {
  return {
    selector: Object.entries(pod.spec?.nodeSelector ?? {}),
    terms:
      pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ??
      [],
  };
}

/** Filter: spec.nodeSelector and required node affinity; Score: preferred node affinity weights. */
export const nodeAffinity: FilterPlugin & ScorePlugin = {
  name: "NodeAffinity",
  weight: 2,
  preFilter(pod, _snap, state) {
    const { selector, terms } = state.read("PreFilterNodeAffinity", () => preFilter(pod));
    return selector.length === 0 && terms.length === 0 ? skip : success;
  },
  preScore(pod) {
    return pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution.length
      ? success
      : skip;
  },
  filter(pod, node, _snap, state?: CycleState) {
    const { selector, terms } = preState(state, "PreFilterNodeAffinity", () => preFilter(pod));
    if (selector.length === 0 && terms.length === 0) return success;
    const labels = node.node.metadata?.labels ?? {};
    for (const [k, v] of selector) {
      if (labels[k] !== v) return unresolvable("node(s) didn't match Pod's node affinity/selector");
    }
    if (terms.length && !terms.some((t) => matchTerm(t, node.node))) {
      return unresolvable("node(s) didn't match Pod's node affinity/selector");
    }
    return success;
  },
  score(pod, node) {
    let total = 0;
    for (const p of pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
      if (p.preference && matchTerm(p.preference, node.node)) total += p.weight;
    }
    return total;
  },
  normalize(scores) {
    defaultNormalize(scores);
  },
};
