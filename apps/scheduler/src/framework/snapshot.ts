import type { Node, Pod } from "@tskube/api";
import { nodeAllocatable, podRequests } from "./resources.js";
import type { NodeInfo, Snapshot } from "./types.js";

/** Builds the cycle's view: every node with the pods bound or assumed to it and their requests. */
export function buildSnapshot(nodes: readonly Node[], scheduledPods: Iterable<Pod>): Snapshot {
  const byName = new Map<string, NodeInfo>();
  for (const node of nodes) {
    const name = node.metadata!.name;
    byName.set(name, {
      node,
      name,
      pods: [],
      requested: { milliCpu: 0, memory: 0, pods: 0 },
      allocatable: nodeAllocatable(node),
    });
  }
  const withAntiAffinity: Snapshot["withAntiAffinity"] = [];
  for (const pod of scheduledPods) {
    const info = byName.get(pod.spec?.nodeName ?? "");
    if (!info) continue;
    if (pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution.length) {
      withAntiAffinity.push({ pod, node: info });
    }
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") continue;
    const r = podRequests(pod);
    info.pods.push(pod);
    info.requested.milliCpu += r.milliCpu;
    info.requested.memory += r.memory;
    info.requested.pods += 1;
  }
  const list = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  return { nodes: list, byName, withAntiAffinity };
}
