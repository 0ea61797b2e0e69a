import { Deployment, ReplicaSet } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { deploymentRolloutStatus, history, planRollback, REVISION_ANNOTATION } from "./rollout.js";

const dep = (over: {
  generation?: number;
  observed?: number;
  replicas?: number;
  status?: Partial<{ replicas: number; updatedReplicas: number; availableReplicas: number }>;
  reason?: string;
  paused?: boolean;
  image?: string;
  revision?: number;
}) =>
  Deployment.fromPartial({
    metadata: {
      name: "web",
      namespace: "default",
      uid: "d-uid",
      generation: over.generation ?? 2,
      annotations: over.revision ? { [REVISION_ANNOTATION]: String(over.revision) } : {},
      resourceVersion: "10",
    },
    spec: {
      replicas: over.replicas ?? 3,
      paused: over.paused ?? false,
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "web", image: over.image ?? "nginx:1.27" }] },
      },
    },
    status: {
      observedGeneration: over.observed ?? 2,
      ...over.status,
      conditions: over.reason ? [{ type: "Progressing", status: "False", reason: over.reason }] : [],
    },
  });

const rs = (revision: number, image: string, owner = "d-uid", annotations: Record<string, string> = {}) =>
  ReplicaSet.fromPartial({
    metadata: {
      name: `web-${revision}`,
      annotations: { [REVISION_ANNOTATION]: String(revision), ...annotations },
      ownerReferences: [
        { kind: "Deployment", name: "web", uid: owner, controller: true, apiVersion: "apps/v1" },
      ],
    },
    spec: {
      template: {
        metadata: { labels: { app: "web", "pod-template-hash": `h${revision}` } },
        spec: { containers: [{ name: "web", image }] },
      },
    },
  });

describe("rollout status", () => {
  it("words each stage as kubectl does", () => {
    expect(deploymentRolloutStatus(dep({ generation: 3, observed: 2 })).message).toBe(
      "Waiting for deployment spec update to be observed...",
    );
    expect(deploymentRolloutStatus(dep({ status: { updatedReplicas: 1, replicas: 4 } })).message).toBe(
      'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
    );
    expect(deploymentRolloutStatus(dep({ status: { updatedReplicas: 3, replicas: 4 } })).message).toBe(
      'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...',
    );
    expect(
      deploymentRolloutStatus(dep({ status: { updatedReplicas: 3, replicas: 3, availableReplicas: 2 } }))
        .message,
    ).toBe('Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...');
    const done = deploymentRolloutStatus(
      dep({ status: { updatedReplicas: 3, replicas: 3, availableReplicas: 3 } }),
    );
    expect(done).toEqual({ message: 'deployment "web" successfully rolled out', done: true });
  });

  it("fails on an exceeded progress deadline and on a revision that is not running", () => {
    expect(() => deploymentRolloutStatus(dep({ reason: "ProgressDeadlineExceeded" }))).toThrow(
      'deployment "web" exceeded its progress deadline',
    );
    expect(() => deploymentRolloutStatus(dep({ revision: 2 }), 3)).toThrow(
      "desired revision (3) is different from the running revision (2)",
    );
  });
});

describe("rollout history and undo", () => {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

  it("lists the revisions of the Deployment's own ReplicaSets, oldest first", () => {
    const sets = [
      rs(2, "nginx:1.26", "d-uid", { "kubernetes.io/change-cause": "bump" }),
      rs(1, "nginx:1.25"),
    ];
    expect(history(sets).map((e) => [e.revision, e.changeCause])).toEqual([
      [1, ""],
      [2, "bump"],
    ]);
  });

  it("rolls back to the previous revision by default, without the hash label, keeping bookkeeping annotations", () => {
    const d = dep({ image: "nginx:1.27", revision: 3 });
    d.metadata!.annotations.team = "blue";
    const sets = [
      rs(1, "nginx:1.25"),
      rs(2, "nginx:1.26", "d-uid", { note: "two" }),
      rs(3, "nginx:1.27"),
      rs(9, "x", "other"),
    ];
    const plan = planRollback(d, sets, 0, same);
    expect(plan.kind).toBe("rollback");
    if (plan.kind !== "rollback") return;
    expect(plan.revision).toBe(2);
    expect(plan.template.spec!.containers[0]!.image).toBe("nginx:1.26");
    expect(plan.template.metadata!.labels).toEqual({ app: "web" });
    expect(plan.annotations).toEqual({ [REVISION_ANNOTATION]: "3", note: "two" });
    expect(planRollback(d, sets, 1, same)).toMatchObject({ kind: "rollback", revision: 1 });
  });

  it("skips a rollback to the template already running and refuses what kubectl refuses", () => {
    const d = dep({ image: "nginx:1.26", revision: 3 });
    const sets = [rs(2, "nginx:1.26"), rs(3, "nginx:1.27")];
    const running = Deployment.fromPartial({ ...d, spec: { ...d.spec!, template: sets[0]!.spec!.template } });
    running.spec!.template!.metadata!.labels = { app: "web" };
    expect(planRollback(running, sets, 2, same)).toEqual({ kind: "skip", revision: 2 });
    expect(() => planRollback(d, sets, 7, same)).toThrow("unable to find specified revision 7 in history");
    expect(() => planRollback(d, [], 0, same)).toThrow('no rollout history found for deployment "web"');
    expect(() => planRollback(d, [rs(1, "a")], 0, same)).toThrow('no revision found for deployment "web"');
    expect(() => planRollback(dep({ paused: true }), sets, 0, same)).toThrow(
      /cannot rollback a paused deployment/,
    );
  });
});
