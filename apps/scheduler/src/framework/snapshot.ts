import type { Node, Pod } from "@tskube/api";
import { newSnapshot, SchedulerCache } from "../cache/cache.js";
import type { Snapshot } from "./types.js";

/** A finished pod no longer holds its node's resources, so the scheduler stops counting it. */
export function isTerminal(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase === "Succeeded" || phase === "Failed";
}

/**
 * A one-off snapshot of these nodes and bound pods, through the same cache the scheduler keeps
 * (tests and tools; the scheduler updates one snapshot incrementally instead).
 */
export function buildSnapshot(nodes: readonly Node[], scheduledPods: Iterable<Pod>): Snapshot {
  const cache = new SchedulerCache();
  for (const node of nodes) cache.addNode(node);
  for (const pod of scheduledPods) if (pod.spec?.nodeName && !isTerminal(pod)) cache.addPod(pod);
  const snap = newSnapshot();
  cache.updateSnapshot(snap);
  return snap;
}
