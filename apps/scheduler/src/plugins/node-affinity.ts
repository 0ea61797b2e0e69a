import type { Node, NodeSelectorRequirement, NodeSelectorTerm } from "@tskube/api";
import {
  defaultNormalize,
  type FilterPlugin,
  type ScorePlugin,
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

/** Filter: spec.nodeSelector and required node affinity; Score: preferred node affinity weights. */
export const nodeAffinity: FilterPlugin & ScorePlugin = {
  name: "NodeAffinity",
  weight: 2,
  filter(pod, node) {
    const labels = node.node.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(pod.spec?.nodeSelector ?? {})) {
      if (labels[k] !== v) return unresolvable("node(s) didn't match Pod's node affinity/selector");
    }
    const terms =
      pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
    if (terms && terms.length && !terms.some((t) => matchTerm(t, node.node))) {
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
