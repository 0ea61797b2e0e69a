import { describe, expect, it } from "vitest";
import { node, pod, snapshot } from "../framework/testing.js";
import { interPodAffinity } from "./inter-pod-affinity.js";
import { nodeAffinity } from "./node-affinity.js";
import { nodeName } from "./node-name.js";
import { leastAllocated, nodeResourcesFit } from "./node-resources-fit.js";
import { nodeUnschedulable } from "./node-unschedulable.js";
import { selectorSpread } from "./selector-spread.js";
import { taintToleration } from "./taint-toleration.js";

describe("NodeResourcesFit", () => {
  it("counts what is bound against allocatable", () => {
    const s = snapshot(
      [node("n1", { cpu: "1", memory: "1Gi", pods: "2" })],
      [pod("a", { cpu: "600m", node: "n1" })],
    );
    const n1 = s.byName.get("n1")!;
    expect(nodeResourcesFit.filter(pod("p", { cpu: "400m" }), n1, s).code).toBe("Success");
    expect(nodeResourcesFit.filter(pod("p", { cpu: "500m" }), n1, s).reasons).toEqual(["Insufficient cpu"]);
    expect(nodeResourcesFit.filter(pod("p", { memory: "2Gi" }), n1, s).reasons).toEqual([
      "Insufficient memory",
    ]);
    const full = snapshot([node("n1", { pods: "1" })], [pod("a", { node: "n1" })]);
    expect(nodeResourcesFit.filter(pod("p"), full.byName.get("n1")!, full).reasons).toEqual([
      "Too many pods",
    ]);
  });
  it("scores emptier nodes higher", () => {
    const s = snapshot([node("busy"), node("idle")], [pod("a", { cpu: "3", node: "busy" })]);
    const p = pod("p", { cpu: "100m" });
    expect(leastAllocated.score(p, s.byName.get("idle")!, s)).toBeGreaterThan(
      leastAllocated.score(p, s.byName.get("busy")!, s),
    );
  });
});

describe("NodeName, NodeUnschedulable", () => {
  it("pins to the named node and skips cordoned nodes", () => {
    const s = snapshot([node("n1"), node("n2", { unschedulable: true })]);
    const pinned = pod("p", { node: "n1" });
    expect(nodeName.filter(pinned, s.byName.get("n1")!, s).code).toBe("Success");
    expect(nodeName.filter(pinned, s.byName.get("n2")!, s).reasons).toEqual([
      "node(s) didn't match the requested node name",
    ]);
    expect(nodeUnschedulable.filter(pod("p"), s.byName.get("n2")!, s).reasons).toEqual([
      "node(s) were unschedulable",
    ]);
    const tolerant = pod("p", {
      spec: {
        tolerations: [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }],
      },
    });
    expect(nodeUnschedulable.filter(tolerant, s.byName.get("n2")!, s).code).toBe("Success");
  });
});

describe("TaintToleration", () => {
  const s = snapshot([
    node("gpu", { taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] }),
    node("soft", { taints: [{ key: "x", effect: "PreferNoSchedule" }] }),
    node("plain"),
  ]);
  it("refuses untolerated NoSchedule taints, worded as Kubernetes", () => {
    expect(taintToleration.filter(pod("p"), s.byName.get("gpu")!, s).reasons).toEqual([
      "node(s) had untolerated taint {dedicated: gpu}",
    ]);
    const ok = pod("p", {
      spec: { tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }] },
    });
    expect(taintToleration.filter(ok, s.byName.get("gpu")!, s).code).toBe("Success");
    const exists = pod("p", { spec: { tolerations: [{ operator: "Exists" }] } });
    expect(taintToleration.filter(exists, s.byName.get("gpu")!, s).code).toBe("Success");
  });
  it("prefers nodes without PreferNoSchedule taints", () => {
    const scores = new Map([
      ["soft", taintToleration.score(pod("p"), s.byName.get("soft")!, s)],
      ["plain", taintToleration.score(pod("p"), s.byName.get("plain")!, s)],
    ]);
    taintToleration.normalize!(scores);
    expect(scores.get("plain")).toBe(100);
    expect(scores.get("soft")).toBe(0);
  });
});

describe("NodeAffinity", () => {
  const s = snapshot([
    node("ssd", { labels: { disktype: "ssd", zone: "a" } }),
    node("hdd", { labels: { disktype: "hdd", zone: "b" } }),
  ]);
  it("filters by nodeSelector and required affinity", () => {
    const sel = pod("p", { spec: { nodeSelector: { disktype: "ssd" } } });
    expect(nodeAffinity.filter(sel, s.byName.get("ssd")!, s).code).toBe("Success");
    expect(nodeAffinity.filter(sel, s.byName.get("hdd")!, s).reasons).toEqual([
      "node(s) didn't match Pod's node affinity/selector",
    ]);
    const req = pod("p", {
      spec: {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["b"] }] }],
            },
          },
        },
      },
    });
    expect(nodeAffinity.filter(req, s.byName.get("ssd")!, s).code).toBe("UnschedulableAndUnresolvable");
    expect(nodeAffinity.filter(req, s.byName.get("hdd")!, s).code).toBe("Success");
  });
  it("scores preferred terms by weight", () => {
    const pref = pod("p", {
      spec: {
        affinity: {
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 50,
                preference: { matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] },
              },
            ],
          },
        },
      },
    });
    expect(nodeAffinity.score(pref, s.byName.get("ssd")!, s)).toBe(50);
    expect(nodeAffinity.score(pref, s.byName.get("hdd")!, s)).toBe(0);
  });
});

describe("InterPodAffinity", () => {
  const zoneA = { "topology.kubernetes.io/zone": "a" };
  const zoneB = { "topology.kubernetes.io/zone": "b" };
  const s = snapshot(
    [node("a1", { labels: zoneA }), node("a2", { labels: zoneA }), node("b1", { labels: zoneB })],
    [pod("cache", { node: "a1", labels: { app: "cache" } })],
  );
  const term = {
    labelSelector: { matchLabels: { app: "cache" } },
    topologyKey: "topology.kubernetes.io/zone",
  };
  it("requires affinity within the topology domain", () => {
    const p = pod("web", {
      spec: { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } } },
    });
    expect(interPodAffinity.filter(p, s.byName.get("a2")!, s).code).toBe("Success");
    expect(interPodAffinity.filter(p, s.byName.get("b1")!, s).reasons).toEqual([
      "node(s) didn't match pod affinity rules",
    ]);
  });
  it("refuses anti-affinity within the domain, and honours existing pods' anti-affinity", () => {
    const p = pod("other", {
      spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } } },
    });
    expect(interPodAffinity.filter(p, s.byName.get("a2")!, s).reasons).toEqual([
      "node(s) didn't match pod anti-affinity rules",
    ]);
    expect(interPodAffinity.filter(p, s.byName.get("b1")!, s).code).toBe("Success");
    const loner = pod("loner", {
      node: "b1",
      labels: { app: "loner" },
      spec: {
        affinity: {
          podAntiAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [
              { labelSelector: { matchLabels: { app: "cache" } }, topologyKey: "kubernetes.io/hostname" },
            ],
          },
        },
      },
    });
    const s2 = snapshot([node("a1"), node("b1")], [loner]);
    expect(
      interPodAffinity.filter(pod("c", { labels: { app: "cache" } }), s2.byName.get("b1")!, s2).reasons,
    ).toEqual(["node(s) didn't satisfy existing pods anti-affinity rules"]);
  });
});

describe("SelectorSpread", () => {
  it("prefers nodes with fewer pods of the same controller", () => {
    const s = snapshot(
      [node("n1"), node("n2")],
      [pod("r1", { node: "n1", owner: "rs" }), pod("r2", { node: "n1", owner: "rs" })],
    );
    const scores = new Map([
      ["n1", selectorSpread.score(pod("r3", { owner: "rs" }), s.byName.get("n1")!, s)],
      ["n2", selectorSpread.score(pod("r3", { owner: "rs" }), s.byName.get("n2")!, s)],
    ]);
    selectorSpread.normalize!(scores);
    expect(scores.get("n2")).toBeGreaterThan(scores.get("n1")!);
  });
});
