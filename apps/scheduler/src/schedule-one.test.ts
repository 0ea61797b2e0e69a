import { describe, expect, it } from "vitest";
import { node, pod, snapshot } from "./framework/testing.js";
import { DEFAULT_FILTERS, DEFAULT_SCORES } from "./plugins/index.js";
import { scheduleOne } from "./schedule-one.js";

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

  it("reports no nodes when there are none", () => {
    const r = scheduleOne(pod("p"), snapshot([]), DEFAULT_FILTERS, DEFAULT_SCORES);
    expect(r.node === undefined && r.message).toBe("no nodes available to schedule pods");
  });
});
