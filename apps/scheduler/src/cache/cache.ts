import { type Node, objectKey, type Pod } from "@tskube/api";
import { nodeAllocatable, podRequests } from "../framework/resources.js";
import type { Snapshot } from "../framework/types.js";

export interface SchedulerCacheOptions {
  /**
   * How long an assumed pod whose binding finished may wait for the informer to confirm it before
   * it is dropped from its node; 0 keeps it until confirmed or forgotten (Kubernetes' default
   * since 1.23, kubernetes#106361: a slow watch must not let the node be overcommitted).
   */
  assumedPodTtlMs?: number;
}

/** What the cache knows of one node: it may hold pods before its Node arrives or after it is gone. */
interface CachedNode {
  name: string;
  node: Node | undefined;
  pods: Map<string, Pod>;
  podsWithRequiredAntiAffinity: number;
  requested: { milliCpu: number; memory: number; pods: number };
  generation: number;
  /** Doubly linked list, most recently changed first, so a snapshot update stops at the first unchanged node. */
  prev: CachedNode | undefined;
  next: CachedNode | undefined;
}

interface PodState {
  pod: Pod;
  /** When an assumed pod whose binding finished is dropped; undefined: not yet (or never). */
  deadline: number | undefined;
  bindingFinished: boolean;
}

const hasRequiredAntiAffinity = (pod: Pod) =>
  (pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution.length ?? 0) > 0;

/** An empty snapshot for `SchedulerCache.updateSnapshot` to fill. */
export function newSnapshot(): Snapshot {
  return { nodes: [], byName: new Map(), withAntiAffinity: [], generation: 0 };
}

/**
 * The scheduler cache (Kubernetes' pkg/scheduler/backend/cache): per node, the pods bound or
 * assumed to it and their summed requests, kept up to date from pod and node events instead of
 * being recomputed from every object in each cycle. Each change stamps the node with a new
 * generation and moves it to the head of a list, so `updateSnapshot` copies only the nodes changed
 * since the snapshot was last updated.
 *
 * Pod states follow Kubernetes: assumePod (the scheduler decided) → addPod (the informer shows
 * the binding: confirmed), or forgetPod (binding failed), or expiry `assumedPodTtlMs` after
 * finishBinding when no confirmation came.
 */
export class SchedulerCache {
  private readonly nodes = new Map<string, CachedNode>();
  private head: CachedNode | undefined;
  private generation = 0;
  /** Nodes whose Node object is known: the ones a snapshot shows. */
  private nodeCount = 0;
  private readonly podStates = new Map<string, PodState>();
  private readonly assumed = new Set<string>();
  private readonly ttlMs: number;

  constructor(opts: SchedulerCacheOptions = {}) {
    this.ttlMs = opts.assumedPodTtlMs ?? 0;
  }

  // ---- nodes ----

  addNode(node: Node): void {
    const n = this.nodeFor(node.metadata!.name);
    if (!n.node) this.nodeCount++;
    n.node = node;
    this.touch(n);
  }

  updateNode(_old: Node, node: Node): void {
    this.addNode(node);
  }

  /** The Node is gone; its pods stay counted until their own deletes arrive (events may come in any order). */
  removeNode(node: Node): void {
    const n = this.nodes.get(node.metadata!.name);
    if (!n?.node) return;
    n.node = undefined;
    this.nodeCount--;
    if (n.pods.size === 0) this.drop(n);
    else this.touch(n);
  }

  // ---- pods ----

  /** The scheduler placed the pod (spec.nodeName set) and counts it there before the binding is written. */
  assumePod(pod: Pod): void {
    const key = objectKey(pod);
    if (this.podStates.has(key)) throw new Error(`pod ${key} is in the cache, so can't be assumed`);
    this.addToNode(key, pod);
    this.podStates.set(key, { pod, deadline: undefined, bindingFinished: false });
    this.assumed.add(key);
  }

  /** The binding was written: from now on an unconfirmed assumed pod may expire. */
  finishBinding(pod: Pod, now: number): void {
    const key = objectKey(pod);
    const st = this.podStates.get(key);
    if (!st || !this.assumed.has(key)) return;
    st.bindingFinished = true;
    if (this.ttlMs > 0) st.deadline = now + this.ttlMs;
  }

  /** The binding failed: the assumed pod no longer counts on its node. */
  forgetPod(pod: Pod): void {
    const key = objectKey(pod);
    const st = this.podStates.get(key);
    if (!st || !this.assumed.has(key)) throw new Error(`pod ${key} wasn't assumed so cannot be forgotten`);
    if (st.pod.spec?.nodeName !== pod.spec?.nodeName)
      throw new Error(
        `pod ${key} was assumed on ${st.pod.spec?.nodeName} but assigned to ${pod.spec?.nodeName}`,
      );
    this.removeFromNode(key, st.pod);
    this.podStates.delete(key);
    this.assumed.delete(key);
  }

  /**
   * A bound pod seen by the informer: confirms an assumed pod (moving it if the apiserver says
   * another node), adds back one that expired, or adds a pod bound by someone else.
   */
  addPod(pod: Pod): void {
    const key = objectKey(pod);
    const st = this.podStates.get(key);
    if (st) this.removeFromNode(key, st.pod);
    this.addToNode(key, pod);
    this.podStates.set(key, { pod, deadline: undefined, bindingFinished: false });
    this.assumed.delete(key);
  }

  /** A bound pod changed (labels, phase…): its node counts the new version. */
  updatePod(_old: Pod, pod: Pod): void {
    this.addPod(pod);
  }

  /** A bound pod was deleted or finished: its node stops counting it. */
  removePod(pod: Pod): void {
    const key = objectKey(pod);
    const st = this.podStates.get(key);
    if (!st) return;
    this.removeFromNode(key, st.pod);
    this.podStates.delete(key);
    this.assumed.delete(key);
  }

  isAssumed(key: string): boolean {
    return this.assumed.has(key);
  }

  /** The cached version of the pod (assumed or confirmed), if any. */
  getPod(key: string): Pod | undefined {
    return this.podStates.get(key)?.pod;
  }

  /** Drops assumed pods whose binding finished more than the TTL ago without confirmation; returns their keys. */
  cleanupExpiredAssumedPods(now: number): string[] {
    const expired: string[] = [];
    for (const key of this.assumed) {
      const st = this.podStates.get(key)!;
      if (!st.bindingFinished || st.deadline === undefined || now < st.deadline) continue;
      this.removeFromNode(key, st.pod);
      this.podStates.delete(key);
      this.assumed.delete(key);
      expired.push(key);
    }
    return expired;
  }

  sizes(): { nodes: number; pods: number; assumed: number } {
    return { nodes: this.nodeCount, pods: this.podStates.size, assumed: this.assumed.size };
  }

  // ---- snapshot ----

  /**
   * Brings `snap` up to date: copies only the nodes changed since its generation (walking the
   * most-recently-changed list until the first node the snapshot already has), updating each
   * snapshot NodeInfo in place so lists that point at it stay valid. The sorted node list is
   * rebuilt only when nodes came or went, the anti-affinity list only when a changed node had or
   * has such pods. Returns how many nodes were copied.
   */
  updateSnapshot(snap: Snapshot): number {
    let copied = 0;
    let nodesChanged = false;
    let antiAffinityChanged = false;
    for (let n = this.head; n && n.generation > snap.generation; n = n.next) {
      if (!n.node) continue;
      copied++;
      let info = snap.byName.get(n.name);
      if (!info) {
        info = {
          node: n.node,
          name: n.name,
          pods: [],
          podsWithRequiredAntiAffinity: [],
          requested: { milliCpu: 0, memory: 0, pods: 0 },
          allocatable: nodeAllocatable(n.node),
          generation: 0,
        };
        snap.byName.set(n.name, info);
        nodesChanged = true;
      }
      if (info.podsWithRequiredAntiAffinity.length || n.podsWithRequiredAntiAffinity)
        antiAffinityChanged = true;
      info.node = n.node;
      info.allocatable = nodeAllocatable(n.node);
      // Fresh arrays: a plugin holding the previous cycle's list keeps an unchanged view.
      info.pods = [...n.pods.values()];
      info.podsWithRequiredAntiAffinity = n.podsWithRequiredAntiAffinity
        ? info.pods.filter(hasRequiredAntiAffinity)
        : [];
      info.requested = { ...n.requested };
      info.generation = n.generation;
    }
    snap.generation = this.generation;
    if (snap.byName.size > this.nodeCount) {
      for (const [name, info] of snap.byName) {
        if (this.nodes.get(name)?.node) continue;
        snap.byName.delete(name);
        if (info.podsWithRequiredAntiAffinity.length) antiAffinityChanged = true;
      }
      nodesChanged = true;
    }
    if (nodesChanged) {
      snap.nodes = [...snap.byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }
    if (nodesChanged || antiAffinityChanged) {
      snap.withAntiAffinity = [];
      for (const info of snap.nodes)
        for (const pod of info.podsWithRequiredAntiAffinity) snap.withAntiAffinity.push({ pod, node: info });
    }
    return copied;
  }

  // ---- internals ----

  private nodeFor(name: string): CachedNode {
    let n = this.nodes.get(name);
    if (!n) {
      n = {
        name,
        node: undefined,
        pods: new Map(),
        podsWithRequiredAntiAffinity: 0,
        requested: { milliCpu: 0, memory: 0, pods: 0 },
        generation: 0,
        prev: undefined,
        next: undefined,
      };
      this.nodes.set(name, n);
    }
    return n;
  }

  private addToNode(key: string, pod: Pod): void {
    const n = this.nodeFor(pod.spec?.nodeName ?? "");
    const r = podRequests(pod);
    n.pods.set(key, pod);
    n.requested.milliCpu += r.milliCpu;
    n.requested.memory += r.memory;
    n.requested.pods += 1;
    if (hasRequiredAntiAffinity(pod)) n.podsWithRequiredAntiAffinity++;
    this.touch(n);
  }

  private removeFromNode(key: string, pod: Pod): void {
    const n = this.nodes.get(pod.spec?.nodeName ?? "");
    if (!n?.pods.delete(key)) return;
    const r = podRequests(pod);
    n.requested.milliCpu -= r.milliCpu;
    n.requested.memory -= r.memory;
    n.requested.pods -= 1;
    if (hasRequiredAntiAffinity(pod)) n.podsWithRequiredAntiAffinity--;
    if (!n.node && n.pods.size === 0) this.drop(n);
    else this.touch(n);
  }

  /** New generation, and to the head of the list. */
  private touch(n: CachedNode): void {
    n.generation = ++this.generation;
    if (this.head === n) return;
    this.unlink(n);
    n.next = this.head;
    if (this.head) this.head.prev = n;
    this.head = n;
  }

  private drop(n: CachedNode): void {
    this.unlink(n);
    this.nodes.delete(n.name);
    // The snapshot notices the node is gone by count; the generation bump makes it look again.
    this.generation++;
  }

  private unlink(n: CachedNode): void {
    if (n.prev) n.prev.next = n.next;
    if (n.next) n.next.prev = n.prev;
    if (this.head === n) this.head = n.next;
    n.prev = undefined;
    n.next = undefined;
  }
}
