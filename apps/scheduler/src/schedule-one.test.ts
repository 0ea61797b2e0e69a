import { describe, expect, it } from "vitest";
import { node, pod, snapshot } from "./framework/testing.js";
import { DEFAULT_FILTERS, DEFAULT_SCORES } from "./plugins/index.js";
import { numFeasibleNodesToFind, scheduleOne } from "./schedule-one.js";

describe("scheduleOne", () => {
  it("explains why no node fits, in Kubernetes' words", () => {
    const s = snapshot(
      [
        node("n1", { cpu: "1" }),
        node("n2", { cpu: "1" }),
        node("n3", { taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] }),
      ],
      [],
    );
    const r = scheduleOne(pod("big", { cpu: "2" }), s, DEFAULT_FILTERS, DEFAULT_SCORES);
    expect(r.node).toBeUndefined();
    expect(r.node === undefined && r.message).toBe(
      "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }.",
    );
  });

  it("spreads a controller's replicas and prefers the emptier node", () => {
    const nodes = [node("n1"), node("n2"), node("n3")];
    const placed = [
      pod("a", { node: "n1", owner: "rs", cpu: "100m" }),
      pod("b", { node: "n2", owner: "rs", cpu: "100m" }),
    ];
    const r = scheduleOne(
      pod("c", { owner: "rs", cpu: "100m" }),
      snapshot(nodes, placed),
      DEFAULT_FILTERS,
      DEFAULT_SCORES,
    );
    expect(r.node).toBe("n3");
  });

  it("still steers away from PreferNoSchedule taints when PreScore skips the plugins with nothing to say", () => {
    const nodes = [node("n1", { taints: [{ key: "x", effect: "PreferNoSchedule" }] }), node("n2")];
    for (let tie = 0; tie < 4; tie++) {
      const r = scheduleOne(pod("p"), snapshot(nodes), DEFAULT_FILTERS, DEFAULT_SCORES, { tieBreak: tie });
      expect(r.node).toBe("n2");
    }
  });

  it("reports no nodes when there are none", () => {
    const r = scheduleOne(pod("p"), snapshot([]), DEFAULT_FILTERS, DEFAULT_SCORES);
    expect(r.node === undefined && r.message).toBe("no nodes available to schedule pods");
  });

  it("stops filtering once enough nodes fit, starting where the last attempt stopped", () => {
    const nodes = Array.from({ length: 200 }, (_, i) => node(`n${String(i).padStart(3, "0")}`));
    const s = snapshot(nodes);
    // 200 nodes: adaptive 50% - 1% = 49% is 98 nodes, raised to the minimum of 100.
    const r = scheduleOne(pod("p"), s, DEFAULT_FILTERS, DEFAULT_SCORES, { startIndex: 150 });
    expect(r.node === undefined ? -1 : r.feasible).toBe(100);
    expect(r.processed).toBe(100);
    // Nodes 150..199, then 0..49: the chosen node is among them.
    const picked = Number(r.node!.slice(1));
    expect(picked >= 150 || picked < 50).toBe(true);
    const all = scheduleOne(pod("p"), s, DEFAULT_FILTERS, DEFAULT_SCORES, { percentageOfNodesToScore: 100 });
    expect(all.processed).toBe(200);
  });

  it("looks at every node before saying none fits", () => {
    const nodes = Array.from({ length: 300 }, (_, i) => node(`n${i}`, { cpu: "1" }));
    const r = scheduleOne(pod("big", { cpu: "2" }), snapshot(nodes), DEFAULT_FILTERS, DEFAULT_SCORES, {
      startIndex: 7,
    });
    expect(r.processed).toBe(300);
    expect(r.node === undefined && r.message).toBe("0/300 nodes are available: 300 Insufficient cpu.");
  });
});

describe("numFeasibleNodesToFind", () => {
  it("is adaptive as Kubernetes: 50% - nodes/125, at least 5%, at least 100 nodes", () => {
    expect(numFeasibleNodesToFind(50)).toBe(50);
    expect(numFeasibleNodesToFind(100)).toBe(100);
    expect(numFeasibleNodesToFind(1000)).toBe(420);
    expect(numFeasibleNodesToFind(5000)).toBe(500);
    expect(numFeasibleNodesToFind(6000)).toBe(300);
    expect(numFeasibleNodesToFind(1000, 30)).toBe(300);
    expect(numFeasibleNodesToFind(1000, 5)).toBe(100);
    expect(numFeasibleNodesToFind(1000, 100)).toBe(1000);
  });
});
