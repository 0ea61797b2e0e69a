import type { Pod } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { node, pod } from "../framework/testing.js";
import { newSnapshot, SchedulerCache } from "./cache.js";

const bound = (p: Pod, nodeName: string): Pod => ({ ...p, spec: { ...p.spec!, nodeName } });
const antiAffinity = {
  affinity: {
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        { labelSelector: { matchLabels: { app: "db" } }, topologyKey: "kubernetes.io/hostname" },
      ],
    },
  },
};

function cacheWith(...names: string[]): SchedulerCache {
  const cache = new SchedulerCache();
  for (const n of names) cache.addNode(node(n, { cpu: "2", memory: "4Gi" }));
  return cache;
}

describe("SchedulerCache", () => {
  it("adds, updates and removes bound pods on their nodes", () => {
    const cache = cacheWith("n1", "n2");
    const snap = newSnapshot();
    const a = pod("a", { node: "n1", cpu: "500m", memory: "1Gi" });
    cache.addPod(a);
    cache.updateSnapshot(snap);
    expect(snap.byName.get("n1")!.requested).toEqual({ milliCpu: 500, memory: 1024 ** 3, pods: 1 });
    expect(snap.byName.get("n1")!.pods.map((p) => p.metadata!.name)).toEqual(["a"]);

    const bigger = pod("a", { node: "n1", cpu: "1500m", memory: "1Gi" });
    cache.updatePod(a, bigger);
    cache.updateSnapshot(snap);
    expect(snap.byName.get("n1")!.requested.milliCpu).toBe(1500);
    expect(snap.byName.get("n1")!.requested.pods).toBe(1);

    cache.removePod(bigger);
    cache.updateSnapshot(snap);
    expect(snap.byName.get("n1")!.requested).toEqual({ milliCpu: 0, memory: 0, pods: 0 });
    expect(snap.byName.get("n1")!.pods).toEqual([]);
    expect(cache.sizes()).toEqual({ nodes: 2, pods: 0, assumed: 0 });
  });

  it("adds, updates and removes nodes, keeping the list sorted", () => {
    const cache = cacheWith("n2", "n1");
    const snap = newSnapshot();
    cache.updateSnapshot(snap);
    expect(snap.nodes.map((n) => n.name)).toEqual(["n1", "n2"]);

    const relabelled = node("n1", { cpu: "8", labels: { zone: "a" } });
    cache.updateNode(node("n1"), relabelled);
    cache.addNode(node("n0"));
    cache.updateSnapshot(snap);
    expect(snap.nodes.map((n) => n.name)).toEqual(["n0", "n1", "n2"]);
    expect(snap.byName.get("n1")!.node.metadata!.labels.zone).toBe("a");
    expect(snap.byName.get("n1")!.allocatable.milliCpu).toBe(8000);

    cache.removeNode(relabelled);
    cache.updateSnapshot(snap);
    expect(snap.nodes.map((n) => n.name)).toEqual(["n0", "n2"]);
    expect(snap.byName.has("n1")).toBe(false);
  });

  it("keeps a removed node's pods until they go, and a pod that arrives before its node", () => {
    const cache = cacheWith("n1");
    const snap = newSnapshot();
    const early = pod("early", { node: "n2", cpu: "1" });
    cache.addPod(early);
    cache.updateSnapshot(snap);
    expect(snap.byName.has("n2")).toBe(false);
    cache.addNode(node("n2"));
    cache.updateSnapshot(snap);
    expect(snap.byName.get("n2")!.requested.milliCpu).toBe(1000);

    cache.removeNode(node("n2"));
    cache.updateSnapshot(snap);
    expect(snap.byName.has("n2")).toBe(false);
    expect(cache.getPod("default/early")).toBe(early);
    // The node comes back before the pod's delete: the pod still counts.
    cache.addNode(node("n2"));
    cache.updateSnapshot(snap);
    expect(snap.byName.get("n2")!.requested.milliCpu).toBe(1000);
    cache.removePod(early);
    cache.updateSnapshot(snap);
    expect(snap.byName.get("n2")!.requested.milliCpu).toBe(0);
  });

  it("counts an assumed pod at once and confirms it when the informer shows the binding", () => {
    const cache = cacheWith("n1", "n2");
    const snap = newSnapshot();
    const p = bound(pod("p", { cpu: "1" }), "n1");
    cache.assumePod(p);
    expect(cache.isAssumed("default/p")).toBe(true);
    expect(() => cache.assumePod(p)).toThrow("pod default/p is in the cache, so can't be assumed");
    cache.updateSnapshot(snap);
    expect(snap.byName.get("n1")!.requested.milliCpu).toBe(1000);

    cache.finishBinding(p, 0);
    const confirmed = { ...p, metadata: { ...p.metadata!, resourceVersion: "7" } };
    cache.addPod(confirmed);
    expect(cache.isAssumed("default/p")).toBe(false);
    expect(cache.getPod("default/p")).toBe(confirmed);
    cache.updateSnapshot(snap);
    expect(snap.byName.get("n1")!.requested).toEqual({ milliCpu: 1000, memory: 0, pods: 1 });
    expect(() => cache.forgetPod(confirmed)).toThrow("pod default/p wasn't assumed so cannot be forgotten");
  });

  it("moves an assumed pod when the apiserver shows it bound elsewhere", () => {
    const cache = cacheWith("n1", "n2");
    const snap = newSnapshot();
    const p = pod("p", { cpu: "1" });
    cache.assumePod(bound(p, "n1"));
    cache.addPod(bound(p, "n2"));
    cache.updateSnapshot(snap);
    expect(snap.byName.get("n1")!.requested.pods).toBe(0);
    expect(snap.byName.get("n2")!.requested.pods).toBe(1);
  });

  it("forgets an assumed pod whose binding failed", () => {
    const cache = cacheWith("n1");
    const snap = newSnapshot();
    const p = bound(pod("p", { cpu: "1" }), "n1");
    cache.assumePod(p);
    expect(() => cache.forgetPod(bound(p, "n2"))).toThrow("was assumed on n1 but assigned to n2");
    cache.forgetPod(p);
    cache.updateSnapshot(snap);
    expect(snap.byName.get("n1")!.requested.pods).toBe(0);
    expect(cache.isAssumed("default/p")).toBe(false);
    expect(cache.sizes().pods).toBe(0);
  });

  it("expires assumed pods only after their binding finished and the TTL passed", () => {
    const cache = new SchedulerCache({ assumedPodTtlMs: 30_000 });
    cache.addNode(node("n1"));
    const snap = newSnapshot();
    const slow = bound(pod("slow", { cpu: "1" }), "n1");
    const done = bound(pod("done", { cpu: "1" }), "n1");
    cache.assumePod(slow);
    cache.assumePod(done);
    cache.finishBinding(done, 1000);
    expect(cache.cleanupExpiredAssumedPods(30_999)).toEqual([]);
    cache.updateSnapshot(snap);
    expect(snap.byName.get("n1")!.requested.pods).toBe(2);

    expect(cache.cleanupExpiredAssumedPods(31_000)).toEqual(["default/done"]);
    cache.updateSnapshot(snap);
    expect(snap.byName.get("n1")!.requested.pods).toBe(1);
    expect(cache.isAssumed("default/done")).toBe(false);
    // Still binding: never expires, however long it takes.
    expect(cache.cleanupExpiredAssumedPods(1_000_000)).toEqual([]);
    expect(cache.isAssumed("default/slow")).toBe(true);
    // The binding shows up after all: added back.
    cache.addPod(done);
    cache.updateSnapshot(snap);
    expect(snap.byName.get("n1")!.requested.pods).toBe(2);
  });

  it("never expires assumed pods with the default TTL of 0", () => {
    const cache = cacheWith("n1");
    const p = bound(pod("p"), "n1");
    cache.assumePod(p);
    cache.finishBinding(p, 0);
    expect(cache.cleanupExpiredAssumedPods(Number.MAX_SAFE_INTEGER)).toEqual([]);
    expect(cache.isAssumed("default/p")).toBe(true);
  });

  it("copies only the nodes changed since the snapshot's generation", () => {
    const names = Array.from({ length: 50 }, (_, i) => `n${String(i).padStart(2, "0")}`);
    const cache = cacheWith(...names);
    const snap = newSnapshot();
    expect(cache.updateSnapshot(snap)).toBe(50);
    expect(cache.updateSnapshot(snap)).toBe(0);
    const untouched = snap.byName.get("n10")!;
    const untouchedPods = untouched.pods;
    const nodeList = snap.nodes;

    cache.assumePod(bound(pod("a", { cpu: "1" }), "n03"));
    cache.addPod(pod("b", { node: "n07", cpu: "1" }));
    cache.addPod(pod("c", { node: "n07", cpu: "1" }));
    expect(cache.updateSnapshot(snap)).toBe(2);
    expect(snap.byName.get("n03")!.requested.pods).toBe(1);
    expect(snap.byName.get("n07")!.requested.pods).toBe(2);
    // Unchanged nodes are the same objects with the same pod lists; no node came or went, so the
    // sorted list was not rebuilt either.
    expect(snap.byName.get("n10")).toBe(untouched);
    expect(snap.byName.get("n10")!.pods).toBe(untouchedPods);
    expect(snap.nodes).toBe(nodeList);
    expect(snap.byName.get("n07")!.generation).toBeGreaterThan(untouched.generation);

    // A second snapshot starts from nothing and gets every node.
    expect(cache.updateSnapshot(newSnapshot())).toBe(50);
  });

  it("lists pods with required anti-affinity, following their nodes", () => {
    const cache = cacheWith("n1", "n2");
    const snap = newSnapshot();
    const loner = pod("loner", { node: "n2", spec: antiAffinity });
    cache.addPod(pod("plain", { node: "n1" }));
    cache.addPod(loner);
    cache.updateSnapshot(snap);
    expect(snap.withAntiAffinity.map((e) => [e.pod.metadata!.name, e.node.name])).toEqual([["loner", "n2"]]);
    expect(snap.withAntiAffinity[0]!.node).toBe(snap.byName.get("n2"));
    cache.removePod(loner);
    cache.updateSnapshot(snap);
    expect(snap.withAntiAffinity).toEqual([]);
  });
});
