import type { Pod, PodAffinityTerm } from "@tskube/api";
import { type Selector, selectorFromLabelSelector } from "@tskube/machinery";
import {
  type CycleState,
  type FilterPlugin,
  MAX_NODE_SCORE,
  type NodeInfo,
  preState,
  type ScorePlugin,
  type Snapshot,
  skip,
  success,
  unschedulable,
} from "../framework/types.js";

// Terms belong to informer objects, which are replaced, never mutated: a parsed selector can be kept.
const selectors = new WeakMap<PodAffinityTerm, Selector | null>();

function selectorOf(term: PodAffinityTerm): Selector | null {
  let s = selectors.get(term);
  if (s === undefined) {
    try {
      s = selectorFromLabelSelector(term.labelSelector);
    } catch {
      s = null;
    }
    selectors.set(term, s);
  }
  return s;
}

/** Does `other` match the term as seen from `owner` (the pod that carries the term)? */
function termMatches(term: PodAffinityTerm, owner: Pod, other: Pod): boolean {
  const namespaces = term.namespaces.length ? term.namespaces : [owner.metadata?.namespace ?? ""];
  if (!term.namespaceSelector && !namespaces.includes(other.metadata?.namespace ?? "")) return false;
  return selectorOf(term)?.matches(other.metadata?.labels ?? {}) ?? false;
}

const domain = (node: NodeInfo, key: string) => node.node.metadata?.labels[key];

/** Where pods matching one of the pod's own terms run: the topology values of their nodes. */
interface TermDomains {
  key: string;
  domains: Set<string>;
  /** A matching pod runs somewhere (even on a node without the topology key). */
  anyMatch: boolean;
}

function termDomains(term: PodAffinityTerm, pod: Pod, snap: Snapshot): TermDomains {
  const out: TermDomains = { key: term.topologyKey, domains: new Set(), anyMatch: false };
  for (const n of snap.nodes) {
    const v = domain(n, term.topologyKey);
    if (v === undefined && out.anyMatch) continue;
    if (v !== undefined && out.domains.has(v)) continue;
    if (!n.pods.some((p) => termMatches(term, pod, p))) continue;
    out.anyMatch = true;
    if (v !== undefined) out.domains.add(v);
  }
  return out;
}

const inDomain = (t: TermDomains, node: NodeInfo) => {
  const v = domain(node, t.key);
  return v !== undefined && t.domains.has(v);
};

/**
 * PreFilter state (Kubernetes' affinityCounts / antiAffinityCounts / existingAntiAffinityCounts):
 * one pass over the scheduled pods per attempt, so each node is then a few set lookups.
 */
interface FilterState {
  affinity: (TermDomains & { selfMatch: boolean })[];
  antiAffinity: TermDomains[];
  /** topology key → values where an existing pod's required anti-affinity term matches this pod. */
  existingAntiAffinity: Map<string, Set<string>>;
}

function preFilter(pod: Pod, snap: Snapshot): FilterState {
  const aff = pod.spec?.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  const anti = pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  const existingAntiAffinity = new Map<string, Set<string>>();
  for (const { pod: existing, node: other } of snap.withAntiAffinity) {
    for (const term of existing.spec?.affinity?.podAntiAffinity
      ?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
      const v = domain(other, term.topologyKey);
      if (v === undefined || !termMatches(term, existing, pod)) continue;
      const values = existingAntiAffinity.get(term.topologyKey);
      if (values) values.add(v);
      else existingAntiAffinity.set(term.topologyKey, new Set([v]));
    }
  }
  return {
    affinity: aff.map((t) => ({ ...termDomains(t, pod, snap), selfMatch: termMatches(t, pod, pod) })),
    antiAffinity: anti.map((t) => termDomains(t, pod, snap)),
    existingAntiAffinity,
  };
}

/** PreScore state: the preferred terms' domains with their signed weights. */
function preScore(pod: Pod, snap: Snapshot): (TermDomains & { weight: number })[] {
  const out: (TermDomains & { weight: number })[] = [];
  const aff = pod.spec?.affinity;
  for (const w of aff?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [])
    if (w.podAffinityTerm) out.push({ ...termDomains(w.podAffinityTerm, pod, snap), weight: w.weight });
  for (const w of aff?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [])
    if (w.podAffinityTerm) out.push({ ...termDomains(w.podAffinityTerm, pod, snap), weight: -w.weight });
  return out;
}

/** Filter: required pod affinity and anti-affinity by topology key, both the pod's and existing pods'. */
export const interPodAffinity: FilterPlugin & ScorePlugin = {
  name: "InterPodAffinity",
  weight: 2,
  preFilter(pod, snap, state) {
    const st = state.read("PreFilterInterPodAffinity", () => preFilter(pod, snap));
    return st.affinity.length || st.antiAffinity.length || st.existingAntiAffinity.size ? success : skip;
  },
  preScore(pod, _feasible, snap, state) {
    return state.read("PreScoreInterPodAffinity", () => preScore(pod, snap)).length ? success : skip;
  },
  filter(pod, node, snap, state?: CycleState) {
    const st = preState(state, "PreFilterInterPodAffinity", () => preFilter(pod, snap));
    for (const t of st.affinity) {
      if (inDomain(t, node)) continue;
      // The first pod of a group that selects itself may go anywhere the key exists.
      if (!t.anyMatch && t.selfMatch && domain(node, t.key) !== undefined) continue;
      return unschedulable("node(s) didn't match pod affinity rules");
    }
    for (const t of st.antiAffinity) {
      if (inDomain(t, node)) return unschedulable("node(s) didn't match pod anti-affinity rules");
    }
    for (const [key, values] of st.existingAntiAffinity) {
      const v = domain(node, key);
      if (v !== undefined && values.has(v))
        return unschedulable("node(s) didn't satisfy existing pods anti-affinity rules");
    }
    return success;
  },
  score(pod, node, snap, state?: CycleState) {
    const terms = preState(state, "PreScoreInterPodAffinity", () => preScore(pod, snap));
    let total = 0;
    for (const t of terms) if (inDomain(t, node)) total += t.weight;
    return total;
  },
  normalize(scores) {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const v of scores.values()) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    for (const [k, v] of scores)
      scores.set(k, max === min ? 0 : Math.floor(((v - min) * MAX_NODE_SCORE) / (max - min)));
  },
};
