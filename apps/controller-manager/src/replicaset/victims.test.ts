import { Pod } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { deletesBefore, POD_DELETION_COST, podDeletionCost, podsToDelete } from "./victims.js";

interface P {
  name: string;
  node?: string;
  phase?: string;
  ready?: string;
  cost?: string;
  restarts?: number;
  created?: string;
}

const pod = (p: P) =>
  Pod.fromPartial({
    metadata: {
      name: p.name,
      namespace: "default",
      creationTimestamp: p.created ?? "2026-01-01T00:00:00Z",
      annotations: p.cost === undefined ? {} : { [POD_DELETION_COST]: p.cost },
    },
    spec: { nodeName: p.node ?? "node-1" },
    status: {
      phase: p.phase ?? "Running",
      conditions: p.ready ? [{ type: "Ready", status: "True", lastTransitionTime: p.ready }] : [],
      containerStatuses: [{ name: "c", restartCount: p.restarts ?? 0 }],
    },
  });

const T0 = "2026-01-01T00:00:00Z";
const T1 = "2026-01-01T00:01:00Z";
const order = (pods: Pod[]) => podsToDelete(pods, pods, pods.length - 1).map((p) => p.metadata!.name);

describe("scale-down victim order", () => {
  it("takes pods in Kubernetes' order, one rule at a time", () => {
    const cases: [string, P, P][] = [
      [
        "unassigned before assigned",
        { name: "a", node: "", phase: "Pending" },
        { name: "b", phase: "Pending" },
      ],
      ["Pending before Unknown", { name: "a", phase: "Pending" }, { name: "b", phase: "Unknown" }],
      ["Unknown before Running", { name: "a", phase: "Unknown" }, { name: "b", phase: "Running" }],
      ["not ready before ready", { name: "a" }, { name: "b", ready: T0 }],
      ["lower deletion cost first", { name: "a", ready: T0, cost: "-5" }, { name: "b", ready: T0 }],
      ["ready for less time first", { name: "a", ready: T1 }, { name: "b", ready: T0 }],
      ["more restarts first", { name: "a", ready: T0, restarts: 3 }, { name: "b", ready: T0, restarts: 1 }],
      ["newer first", { name: "a", ready: T0, created: T1 }, { name: "b", ready: T0, created: T0 }],
      ["no creation time first", { name: "a", created: "" }, { name: "b", created: T0 }],
    ];
    for (const [what, a, b] of cases) {
      expect(deletesBefore(pod(a), 1, pod(b), 1), what).toBe(true);
      expect(deletesBefore(pod(b), 1, pod(a), 1), what).toBe(false);
    }
  });

  it("ranks earlier rules above later ones", () => {
    // A high-cost pod that is not ready still goes before a ready one with cost -100.
    expect(
      deletesBefore(pod({ name: "a", cost: "100" }), 0, pod({ name: "b", ready: T0, cost: "-100" }), 0),
    ).toBe(true);
    // Cost beats doubling up: the pod on a crowded node with a higher cost stays.
    expect(deletesBefore(pod({ name: "a", ready: T0, cost: "1" }), 5, pod({ name: "b", ready: T0 }), 1)).toBe(
      false,
    );
  });

  it("removes pods from the node with the most related replicas first", () => {
    const pods = [
      pod({ name: "a1", node: "a", ready: T0 }),
      pod({ name: "b1", node: "b", ready: T0 }),
      pod({ name: "b2", node: "b", ready: T0 }),
      pod({ name: "c1", node: "c", ready: T0 }),
    ];
    // An old ReplicaSet's pod on node c makes c the most crowded node.
    const related = [
      ...pods,
      pod({ name: "old-c", node: "c", ready: T0 }),
      pod({ name: "old-c2", node: "c" }),
    ];
    expect(podsToDelete(pods, related, 1).map((p) => p.metadata!.name)).toEqual(["c1"]);
    expect(
      podsToDelete(pods, pods, 2)
        .map((p) => p.metadata!.name)
        .sort(),
    ).toEqual(["b1", "b2"]);
  });

  it("sorts a mixed set fully", () => {
    const pods = [
      pod({ name: "running-ready-old", ready: T0, created: T0 }),
      pod({ name: "running-ready-new", ready: T0, created: T1 }),
      pod({ name: "running-ready-cheap", ready: T0, cost: "-1" }),
      pod({ name: "running-not-ready" }),
      pod({ name: "unknown", phase: "Unknown" }),
      pod({ name: "pending", phase: "Pending" }),
      pod({ name: "unassigned", node: "", phase: "Pending" }),
    ];
    expect(podsToDelete(pods, pods, 6).map((p) => p.metadata!.name)).toEqual([
      "unassigned",
      "pending",
      "unknown",
      "running-not-ready",
      "running-ready-cheap",
      "running-ready-new",
    ]);
    expect(order(pods.slice(0, 2))).toEqual(["running-ready-new"]);
  });

  it("reads pod-deletion-cost as an int32 and ignores anything else", () => {
    expect(podDeletionCost(pod({ name: "a", cost: "-2147483648" }))).toBe(-2147483648);
    expect(podDeletionCost(pod({ name: "a", cost: "2147483648" }))).toBe(0);
    expect(podDeletionCost(pod({ name: "a", cost: "1.5" }))).toBe(0);
    expect(podDeletionCost(pod({ name: "a" }))).toBe(0);
  });
});
