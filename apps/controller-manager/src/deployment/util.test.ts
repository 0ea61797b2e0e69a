import { Deployment, DeploymentStatus, ReplicaSet } from "@tskube/api";
import { describe, expect, it } from "vitest";
import {
  DESIRED_REPLICAS_ANNOTATION,
  deploymentComplete,
  deploymentProgressing,
  deploymentTimedOut,
  MAX_REPLICAS_ANNOTATION,
  maxScaledDown,
  maxSurge,
  maxUnavailable,
  newCondition,
  newRSNewReplicas,
  planCleanupUnhealthy,
  planProportionalScale,
  planScaleDownOld,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  resolveFenceposts,
  setCondition,
  setNewReplicaSetAnnotations,
} from "./util.js";

function deployment(replicas: number, surge = "25%", unavailable = "25%", type = "RollingUpdate") {
  return Deployment.fromPartial({
    metadata: { name: "web", namespace: "default", generation: 1, annotations: { team: "a" } },
    spec: {
      replicas,
      progressDeadlineSeconds: 600,
      strategy: {
        type,
        rollingUpdate:
          type === "RollingUpdate" ? { maxSurge: surge, maxUnavailable: unavailable } : undefined,
      },
    },
  });
}

function rs(
  name: string,
  replicas: number,
  available = replicas,
  created = "2026-01-01T00:00:00Z",
  annotations: Record<string, string> = {},
) {
  return ReplicaSet.fromPartial({
    metadata: { name, namespace: "default", uid: name, creationTimestamp: created, annotations },
    spec: { replicas },
    status: { replicas, availableReplicas: available, readyReplicas: available },
  });
}

describe("maxSurge and maxUnavailable", () => {
  it("rounds surge up and unavailable down, as Kubernetes does", () => {
    expect(resolveFenceposts("25%", "25%", 8)).toEqual([2, 2]);
    expect(resolveFenceposts("25%", "25%", 10)).toEqual([3, 2]);
    expect(resolveFenceposts("25%", "25%", 1)).toEqual([1, 0]);
    expect(resolveFenceposts("3", "1", 10)).toEqual([3, 1]);
    expect(resolveFenceposts("30%", "0", 5)).toEqual([2, 0]);
  });

  it("lets one pod be unavailable when both come to 0", () => {
    expect(resolveFenceposts("0", "0", 10)).toEqual([0, 1]);
    expect(resolveFenceposts("0%", "10%", 5)).toEqual([0, 1]);
  });

  it("is 0 for Recreate and caps unavailable at the replica count", () => {
    expect(maxSurge(deployment(4, "1", "1", "Recreate"))).toBe(0);
    expect(maxUnavailable(deployment(4, "1", "1", "Recreate"))).toBe(0);
    expect(maxUnavailable(deployment(3, "0", "5"))).toBe(3);
    expect(maxUnavailable(deployment(0))).toBe(0);
  });
});

describe("rolling update arithmetic", () => {
  it("grows the new ReplicaSet only up to replicas + maxSurge in total", () => {
    const d = deployment(8);
    const newRS = rs("new", 0, 0);
    expect(newRSNewReplicas(d, [rs("old", 8), newRS], newRS)).toBe(2);
    expect(newRSNewReplicas(d, [rs("old", 6), rs("new", 2, 0)], rs("new", 2, 0))).toBe(4);
    expect(newRSNewReplicas(d, [rs("old", 8), rs("new", 2, 0)], rs("new", 2, 0))).toBe(2);
    expect(newRSNewReplicas(d, [rs("old", 0), rs("new", 7)], rs("new", 7))).toBe(8);
    expect(newRSNewReplicas(deployment(8, "1", "1", "Recreate"), [rs("new", 0)], rs("new", 0))).toBe(8);
  });

  it("scales old down only as far as availability allows, counting unavailable new pods", () => {
    const d = deployment(8);
    // 8 old available + 2 new not yet available: 10 - 6 - 2 = 2 may go.
    expect(maxScaledDown(d, [rs("old", 8), rs("new", 2, 0)], rs("new", 2, 0))).toBe(2);
    expect(planScaleDownOld(d, [rs("old", 8), rs("new", 2, 0)], [rs("old", 8)])).toEqual(
      new Map([["old", 6]]),
    );
    // New pods available: the old ones may go further.
    expect(planScaleDownOld(d, [rs("old", 6), rs("new", 4, 4)], [rs("old", 6)])).toEqual(
      new Map([["old", 2]]),
    );
    expect(planScaleDownOld(d, [rs("old", 6, 2), rs("new", 2, 0)], [rs("old", 6, 2)])).toEqual(new Map());
  });

  it("does not count pods a ReplicaSet is still deleting after a scale-down (stale status)", () => {
    const d = deployment(8);
    // Old was just scaled 8 → 6 but its status still says 8 available; new has 2 of 4 available.
    const old = rs("old", 6, 8);
    const nrs = rs("new", 4, 2);
    expect(planScaleDownOld(d, [old, nrs], [old])).toEqual(new Map([["old", 4]]));
    expect(planCleanupUnhealthy([old], 5)).toEqual(new Map());
  });

  it("removes unavailable old pods first, oldest ReplicaSet first, bounded", () => {
    const older = rs("older", 3, 1, "2026-01-01T00:00:00Z");
    const old = rs("old", 4, 2, "2026-01-02T00:00:00Z");
    expect(planCleanupUnhealthy([old, older], 3)).toEqual(
      new Map([
        ["older", 1],
        ["old", 3],
      ]),
    );
    expect(planCleanupUnhealthy([old, rs("healthy", 3)], 5)).toEqual(new Map([["old", 2]]));
  });

  it("shares a resize during a rollout in proportion, leftovers to the largest", () => {
    // Sized for 10 + 3 surge; scaled to 20 (+5 surge): 13 → 25.
    const ann = { [MAX_REPLICAS_ANNOTATION]: "13", [DESIRED_REPLICAS_ANNOTATION]: "10" };
    const d = deployment(20);
    const sizes = planProportionalScale(d, [
      rs("old", 8, 8, "2026-01-01T00:00:00Z", ann),
      rs("new", 5, 0, "2026-01-02T00:00:00Z", ann),
    ]);
    expect(sizes).toEqual(
      new Map([
        ["old", 15],
        ["new", 10],
      ]),
    );
    const down = planProportionalScale(deployment(5), [
      rs("old", 8, 8, "2026-01-01T00:00:00Z", ann),
      rs("new", 5, 0, "2026-01-02T00:00:00Z", ann),
    ]);
    // 5 + 2 surge = 7 in total.
    expect([...down.values()].reduce((a, b) => a + b)).toBe(7);
    expect(down.get("old")).toBe(4);
  });
});

describe("revisions", () => {
  it("gives a new ReplicaSet the next revision and the Deployment's annotations, with its replica annotations", () => {
    const d = deployment(8);
    const r = rs("new", 0);
    expect(setNewReplicaSetAnnotations(d, r, 3, false)).toBe(true);
    expect(r.metadata!.annotations).toEqual({
      team: "a",
      [REVISION_ANNOTATION]: "3",
      [DESIRED_REPLICAS_ANNOTATION]: "8",
      [MAX_REPLICAS_ANNOTATION]: "10",
    });
    expect(setNewReplicaSetAnnotations(d, r, 3, true)).toBe(false);
  });

  it("renumbers a rolled-back-to ReplicaSet and keeps its old number in revision-history", () => {
    const r = rs("v1", 0, 0, undefined, { [REVISION_ANNOTATION]: "1" });
    expect(setNewReplicaSetAnnotations(deployment(2), r, 3, true)).toBe(true);
    expect(r.metadata!.annotations[REVISION_ANNOTATION]).toBe("3");
    expect(r.metadata!.annotations[REVISION_HISTORY_ANNOTATION]).toBe("1");
    setNewReplicaSetAnnotations(deployment(2), r, 5, true);
    expect(r.metadata!.annotations[REVISION_HISTORY_ANNOTATION]).toBe("1,3");
  });
});

describe("conditions and progress", () => {
  const now = Date.parse("2026-01-01T00:10:00Z");

  it("keeps the transition time when only the reason changes, and changes nothing for the same reason", () => {
    const s = DeploymentStatus.fromPartial({});
    setCondition(s, newCondition("Progressing", "True", "NewReplicaSetCreated", "a", 0));
    setCondition(s, newCondition("Progressing", "True", "ReplicaSetUpdated", "b", now));
    expect(s.conditions).toMatchObject([
      {
        reason: "ReplicaSetUpdated",
        lastTransitionTime: "1970-01-01T00:00:00Z",
        lastUpdateTime: "2026-01-01T00:10:00Z",
      },
    ]);
    setCondition(s, newCondition("Progressing", "True", "ReplicaSetUpdated", "c", now + 5000));
    expect(s.conditions[0]!.message).toBe("b");
    setCondition(s, newCondition("Progressing", "False", "ProgressDeadlineExceeded", "d", now));
    expect(s.conditions[0]!.lastTransitionTime).toBe("2026-01-01T00:10:00Z");
  });

  it("times out progressDeadlineSeconds after the last progress, never once complete", () => {
    const d = deployment(2);
    const s = DeploymentStatus.fromPartial({});
    setCondition(s, newCondition("Progressing", "True", "ReplicaSetUpdated", "", now - 600_000));
    expect(deploymentTimedOut(d, s, now)).toBe(false);
    expect(deploymentTimedOut(d, s, now + 1)).toBe(true);
    const done = DeploymentStatus.fromPartial({});
    setCondition(done, newCondition("Progressing", "True", "NewReplicaSetAvailable", "", 0));
    expect(deploymentTimedOut(d, done, now)).toBe(false);
  });

  it("tells progress and completion apart", () => {
    const d = deployment(2);
    d.status = DeploymentStatus.fromPartial({ replicas: 3, updatedReplicas: 1, availableReplicas: 2 });
    expect(
      deploymentProgressing(
        d,
        DeploymentStatus.fromPartial({ replicas: 3, updatedReplicas: 1, availableReplicas: 2 }),
      ),
    ).toBe(false);
    expect(
      deploymentProgressing(
        d,
        DeploymentStatus.fromPartial({ replicas: 3, updatedReplicas: 2, availableReplicas: 2 }),
      ),
    ).toBe(true);
    expect(
      deploymentProgressing(
        d,
        DeploymentStatus.fromPartial({ replicas: 2, updatedReplicas: 1, availableReplicas: 2 }),
      ),
    ).toBe(true);
    expect(
      deploymentComplete(
        d,
        DeploymentStatus.fromPartial({
          replicas: 2,
          updatedReplicas: 2,
          availableReplicas: 2,
          observedGeneration: 1,
        }),
      ),
    ).toBe(true);
    expect(
      deploymentComplete(
        d,
        DeploymentStatus.fromPartial({
          replicas: 2,
          updatedReplicas: 2,
          availableReplicas: 2,
          observedGeneration: 0,
        }),
      ),
    ).toBe(false);
  });
});
