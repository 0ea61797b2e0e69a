import type { Pod, PodAffinityTerm } from "@tskube/api";
import { selectorFromLabelSelector } from "@tskube/machinery";
import {
  type FilterPlugin,
  MAX_NODE_SCORE,
  type NodeInfo,
  type ScorePlugin,
  type Snapshot,
  success,
  unschedulable,
} from "../framework/types.js";

/** Does `other` match the term as seen from `owner` (the pod that carries the term)? */
function termMatches(term: PodAffinityTerm, owner: Pod, other: Pod): boolean {
  const namespaces = term.namespaces.length ? term.namespaces : [owner.metadata?.namespace ?? ""];
  if (!term.namespaceSelector && !namespaces.includes(other.metadata?.namespace ?? "")) return false;
  try {
    return selectorFromLabelSelector(term.labelSelector).matches(other.metadata?.labels ?? {});
  } catch {
    return false;
  }
}

const domain = (node: NodeInfo, key: string) => node.node.metadata?.labels[key];

function sameDomain(a: NodeInfo, b: NodeInfo, key: string): boolean {
  const va = domain(a, key);
  return va !== undefined && va === domain(b, key);
}

function existsInDomain(term: PodAffinityTerm, pod: Pod, node: NodeInfo, snap: Snapshot): boolean {
  for (const other of snap.nodes) {
    if (!sameDomain(node, other, term.topologyKey)) continue;
    if (other.pods.some((p) => termMatches(term, pod, p))) return true;
  }
  return false;
}

/** Filter: required pod affinity and anti-affinity by topology key, both the pod's and existing pods'. */
export const interPodAffinity: FilterPlugin & ScorePlugin = {
  name: "InterPodAffinity",
  weight: 2,
  filter(pod, node, snap) {
    const aff = pod.spec?.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
    for (const term of aff) {
      if (existsInDomain(term, pod, node, snap)) continue;
      // The first pod of a group that selects itself may go anywhere the key exists.
      const anyMatch = snap.nodes.some((n) => n.pods.some((p) => termMatches(term, pod, p)));
      if (!anyMatch && termMatches(term, pod, pod) && domain(node, term.topologyKey) !== undefined) continue;
      return unschedulable("node(s) didn't match pod affinity rules");
    }
    const anti = pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
    for (const term of anti) {
      if (existsInDomain(term, pod, node, snap))
        return unschedulable("node(s) didn't match pod anti-affinity rules");
    }
    // Only pods that declare required anti-affinity can refuse this one (indexed per cycle).
    for (const { pod: existing, node: other } of snap.withAntiAffinity) {
      for (const term of existing.spec?.affinity?.podAntiAffinity
        ?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
        if (sameDomain(node, other, term.topologyKey) && termMatches(term, existing, pod)) {
          return unschedulable("node(s) didn't satisfy existing pods anti-affinity rules");
        }
      }
    }
    return success;
  },
  score(pod, node, snap) {
    let total = 0;
    const aff = pod.spec?.affinity;
    for (const w of aff?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
      if (w.podAffinityTerm && existsInDomain(w.podAffinityTerm, pod, node, snap)) total += w.weight;
    }
    for (const w of aff?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
      if (w.podAffinityTerm && existsInDomain(w.podAffinityTerm, pod, node, snap)) total -= w.weight;
    }
    return total;
  },
  normalize(scores) {
    const values = [...scores.values()];
    const min = Math.min(...values);
    const max = Math.max(...values);
    for (const [k, v] of scores)
      scores.set(k, max === min ? 0 : Math.floor(((v - min) * MAX_NODE_SCORE) / (max - min)));
  },
};
