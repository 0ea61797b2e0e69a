import { Deployment, type Event, Pod, ReplicaSet } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { fakeContext, settle, stored } from "../testing.js";
import { DeploymentController } from "./deployment-controller.js";
import { computeHash } from "./hash.js";
import { REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION } from "./util.js";

const LABELS = { app: "web" };

function deployment(
  replicas: number,
  image: string,
  extra: Partial<{ type: string; revisionHistoryLimit: number }> = {},
) {
  return Deployment.fromPartial({
    metadata: { name: "web", namespace: "default", uid: "d-uid", generation: 1 },
    spec: {
      replicas,
      selector: { matchLabels: LABELS },
      template: { metadata: { labels: LABELS }, spec: { containers: [{ name: "c", image }] } },
      strategy:
        extra.type === "Recreate"
          ? { type: "Recreate" }
          : { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
      revisionHistoryLimit: extra.revisionHistoryLimit ?? 10,
      progressDeadlineSeconds: 600,
    },
  });
}

/**
 * The Deployment controller against a fake apiserver, with the ReplicaSet controller and kubelets
 * played by step(): every ReplicaSet gets the pods it asks for, and a pod becomes available one
 * step after it was created unless its image can never start.
 */
async function cluster(d: Deployment) {
  const f = fakeContext();
  const dc = new DeploymentController(f.ctx);
  const deployments = f.client.resource<Deployment>("Deployment");
  const sets = f.client.resource<ReplicaSet>("ReplicaSet");
  await deployments.create(d);
  const refresh = async () => {
    for (const x of await stored<Deployment>(f.client, "Deployment")) dc.deployments.store.upsert(x);
    for (const key of dc.replicaSets.store.listKeys()) dc.replicaSets.store.delete(key);
    for (const x of await stored<ReplicaSet>(f.client, "ReplicaSet")) dc.replicaSets.store.upsert(x);
  };
  const samples: { total: number; available: number }[] = [];
  const step = async () => {
    await refresh();
    const result = await dc.sync("default/web");
    for (const rs of await stored<ReplicaSet>(f.client, "ReplicaSet")) {
      const want = rs.spec!.replicas!;
      const broken = rs.spec!.template!.spec!.containers[0]!.image.includes("does-not-exist");
      const available = broken ? 0 : Math.min(want, rs.status?.replicas ?? 0);
      await sets.updateStatus({
        ...rs,
        status: {
          ...rs.status!,
          replicas: want,
          readyReplicas: available,
          availableReplicas: available,
          observedGeneration: rs.metadata!.generation,
        },
      });
    }
    const all = await stored<ReplicaSet>(f.client, "ReplicaSet");
    samples.push({
      total: all.reduce((n, rs) => n + rs.status!.replicas, 0),
      available: all.reduce((n, rs) => n + rs.status!.availableReplicas, 0),
    });
    await refresh();
    return result;
  };
  const current = async () => (await deployments.get("web", { namespace: "default" }))!;
  const change = async (fn: (d: Deployment) => void) => {
    const d = await current();
    fn(d);
    d.metadata!.generation++;
    await deployments.update(d);
  };
  const settleRollout = async (max = 40) => {
    for (let i = 0; i < max; i++) {
      await step();
      const d = await current();
      const c = d.status?.conditions.find((x) => x.type === "Progressing");
      const s = d.status!;
      const r = d.spec!.replicas;
      if (
        c?.reason === "NewReplicaSetAvailable" &&
        s.observedGeneration === d.metadata!.generation &&
        s.updatedReplicas === r &&
        s.replicas === r &&
        s.availableReplicas === r
      )
        return i;
    }
    throw new Error("rollout did not finish");
  };
  const replicaSets = async () =>
    (await stored<ReplicaSet>(f.client, "ReplicaSet"))
      .map((rs) => ({
        name: rs.metadata!.name,
        replicas: rs.spec!.replicas,
        revision: rs.metadata!.annotations[REVISION_ANNOTATION],
        image: rs.spec!.template!.spec!.containers[0]!.image,
      }))
      .sort((a, b) => Number(a.revision) - Number(b.revision));
  const events = async () => {
    await settle();
    return (await stored<Event>(f.client, "Event")).map((e) => `${e.reason}: ${e.message}`);
  };
  return { ...f, dc, step, current, change, settleRollout, replicaSets, samples, events, refresh };
}

describe("Deployment controller", () => {
  it("rolls 8 replicas out with the 25% defaults: at most 10 pods, at least 6 available, old ReplicaSet kept at 0", async () => {
    const c = await cluster(deployment(8, "nginx:1.25"));
    await c.settleRollout();
    const [first] = await c.replicaSets();
    expect(first).toMatchObject({ replicas: 8, revision: "1", image: "nginx:1.25" });
    expect(first!.name).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]+$/);
    c.samples.length = 0;
    await c.change((d) => {
      d.spec!.template!.spec!.containers[0]!.image = "nginx:1.26";
    });
    const steps = await c.settleRollout();
    expect(steps).toBeGreaterThan(2);
    expect(Math.max(...c.samples.map((s) => s.total))).toBe(10);
    expect(Math.min(...c.samples.map((s) => s.available))).toBe(6);
    const sets = await c.replicaSets();
    expect(sets).toMatchObject([
      { replicas: 0, revision: "1", image: "nginx:1.25" },
      { replicas: 8, revision: "2", image: "nginx:1.26" },
    ]);
    const d = await c.current();
    expect(d.metadata!.annotations[REVISION_ANNOTATION]).toBe("2");
    expect(d.status).toMatchObject({
      replicas: 8,
      updatedReplicas: 8,
      availableReplicas: 8,
      readyReplicas: 8,
      unavailableReplicas: 0,
      observedGeneration: 2,
    });
    expect(d.status!.conditions.map((x) => [x.type, x.status, x.reason])).toEqual([
      ["Available", "True", "MinimumReplicasAvailable"],
      ["Progressing", "True", "NewReplicaSetAvailable"],
    ]);
    const ev = await c.events();
    expect(ev).toContain(`ScalingReplicaSet: Scaled up replica set ${sets[1]!.name} from 0 to 2`);
    expect(ev).toContain(`ScalingReplicaSet: Scaled down replica set ${sets[0]!.name} from 8 to 6`);
    expect(ev).toContain(`ScalingReplicaSet: Scaled down replica set ${sets[0]!.name} from 2 to 0`);
  });

  it("leaves the old ReplicaSet serving when the new image cannot start, and reports the deadline exceeded", async () => {
    const c = await cluster(deployment(8, "nginx:1.25"));
    await c.settleRollout();
    c.samples.length = 0;
    await c.change((d) => {
      d.spec!.template!.spec!.containers[0]!.image = "registry.invalid/does-not-exist:v9";
    });
    for (let i = 0; i < 6; i++) await c.step();
    const sets = await c.replicaSets();
    expect(sets).toMatchObject([
      { replicas: 6, revision: "1" },
      { replicas: 4, revision: "2" },
    ]);
    expect(Math.min(...c.samples.map((s) => s.available))).toBe(6);
    let d = await c.current();
    expect(d.status!.conditions.find((x) => x.type === "Progressing")).toMatchObject({
      status: "True",
      reason: "ReplicaSetUpdated",
    });
    expect(d.status!.conditions.find((x) => x.type === "Available")).toMatchObject({ status: "True" });
    await c.clock.step(601_000);
    await c.step();
    d = await c.current();
    expect(d.status!.conditions.find((x) => x.type === "Progressing")).toMatchObject({
      status: "False",
      reason: "ProgressDeadlineExceeded",
      message: `ReplicaSet "${sets[1]!.name}" has timed out progressing.`,
    });
    expect((await c.replicaSets())[0]).toMatchObject({ replicas: 6, revision: "1" });
  });

  it("asks to come back when a stuck rollout's deadline would pass", async () => {
    const c = await cluster(deployment(2, "registry.invalid/does-not-exist:v1"));
    await c.step();
    const r = await c.step();
    expect(r).toEqual({ requeueAfterMs: 601_000 });
  });

  it("rolls back by template: the old ReplicaSet takes the next revision and its old number is gone", async () => {
    const c = await cluster(deployment(2, "nginx:1.25"));
    await c.settleRollout();
    await c.change((d) => {
      d.spec!.template!.spec!.containers[0]!.image = "nginx:1.26";
    });
    await c.settleRollout();
    // What `kubectl rollout undo` does: copy revision 1's template back into the Deployment.
    await c.change((d) => {
      d.spec!.template!.spec!.containers[0]!.image = "nginx:1.25";
    });
    await c.settleRollout();
    const sets = await c.replicaSets();
    expect(sets.map((s) => [s.revision, s.image, s.replicas])).toEqual([
      ["2", "nginx:1.26", 0],
      ["3", "nginx:1.25", 2],
    ]);
    const v1 = (await stored<ReplicaSet>(c.client, "ReplicaSet")).find(
      (rs) => rs.metadata!.annotations[REVISION_ANNOTATION] === "3",
    )!;
    expect(v1.metadata!.annotations[REVISION_HISTORY_ANNOTATION]).toBe("1");
    expect((await c.current()).metadata!.annotations[REVISION_ANNOTATION]).toBe("3");
  });

  it("restarts on a template annotation and keeps revisionHistoryLimit old ReplicaSets", async () => {
    const c = await cluster(deployment(1, "nginx", { revisionHistoryLimit: 1 }));
    await c.settleRollout();
    for (const at of ["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z"]) {
      await c.change((d) => {
        d.spec!.template!.metadata!.annotations = { "kubectl.kubernetes.io/restartedAt": at };
      });
      await c.settleRollout();
      await c.step();
    }
    const sets = await c.replicaSets();
    expect(sets.map((s) => [s.revision, s.replicas])).toEqual([
      ["3", 0],
      ["4", 1],
    ]);
  });

  it("does not roll out while paused, but still scales; rolls out on resume", async () => {
    const c = await cluster(deployment(2, "nginx:1.25"));
    await c.settleRollout();
    await c.change((d) => {
      d.spec!.paused = true;
      d.spec!.template!.spec!.containers[0]!.image = "nginx:1.26";
    });
    await c.step();
    let d = await c.current();
    expect(d.status!.conditions.find((x) => x.type === "Progressing")).toMatchObject({
      status: "Unknown",
      reason: "DeploymentPaused",
      message: "Deployment is paused",
    });
    expect((await c.replicaSets()).length).toBe(1);
    await c.change((x) => {
      x.spec!.replicas = 4;
    });
    await c.step();
    expect(await c.replicaSets()).toMatchObject([{ replicas: 4, image: "nginx:1.25" }]);
    await c.change((x) => {
      x.spec!.paused = false;
    });
    await c.step();
    d = await c.current();
    // Resumed, and at once a new ReplicaSet for the changed template.
    expect(d.status!.conditions.find((x) => x.type === "Progressing")).toMatchObject({
      status: "True",
      reason: "NewReplicaSetCreated",
    });
    await c.settleRollout();
    expect((await c.replicaSets()).map((s) => [s.image, s.replicas])).toEqual([
      ["nginx:1.25", 0],
      ["nginx:1.26", 4],
    ]);
  });

  it("Recreate: scales the old ReplicaSet to 0 and creates the new one only once the old pods are gone", async () => {
    const c = await cluster(deployment(3, "nginx:1.25", { type: "Recreate" }));
    await c.settleRollout();
    const [old] = await c.replicaSets();
    const oldRS = (await stored<ReplicaSet>(c.client, "ReplicaSet"))[0]!;
    const lingering = Pod.fromPartial({
      metadata: {
        name: "web-old-pod",
        namespace: "default",
        ownerReferences: [
          { kind: "ReplicaSet", name: old!.name, uid: oldRS.metadata!.uid, controller: true },
        ],
      },
      status: { phase: "Running" },
    });
    c.dc.pods.store.upsert(lingering);
    await c.change((d) => {
      d.spec!.template!.spec!.containers[0]!.image = "nginx:1.26";
    });
    await c.step();
    expect(await c.replicaSets()).toMatchObject([{ replicas: 0, image: "nginx:1.25" }]);
    // The ReplicaSet reports 0 pods but one is still terminating: wait.
    await c.step();
    expect((await c.replicaSets()).length).toBe(1);
    c.dc.pods.store.delete("default/web-old-pod");
    await c.step();
    expect((await c.replicaSets()).map((s) => [s.image, s.replicas])).toEqual([
      ["nginx:1.25", 0],
      ["nginx:1.26", 3],
    ]);
    expect(Math.max(...c.samples.slice(-3).map((s) => s.total))).toBeLessThanOrEqual(3);
  });

  it("shares a resize during a rollout between old and new in proportion", async () => {
    const c = await cluster(deployment(8, "nginx:1.25"));
    await c.settleRollout();
    await c.change((d) => {
      d.spec!.template!.spec!.containers[0]!.image = "registry.invalid/does-not-exist:v2";
    });
    for (let i = 0; i < 4; i++) await c.step();
    expect((await c.replicaSets()).map((s) => s.replicas)).toEqual([6, 4]);
    await c.change((d) => {
      d.spec!.replicas = 16;
    });
    await c.step();
    // Sized for 8 + 2 surge = 10, now 16 + 4 = 20: both double.
    expect((await c.replicaSets()).map((s) => s.replicas)).toEqual([12, 8]);
    const ev = await c.events();
    expect(
      ev.filter((e) => e.startsWith("ScalingReplicaSet: Scaled up") && e.endsWith("from 6 to 12")).length,
    ).toBe(1);
  });

  it("bumps collisionCount when the hashed name is taken by another template, and uses the next name", async () => {
    const d = deployment(1, "nginx");
    const c = await cluster(d);
    const name = `web-${computeHash(d.spec!.template)}`;
    await c.client.resource<ReplicaSet>("ReplicaSet").create(
      ReplicaSet.fromPartial({
        metadata: { name, namespace: "default", labels: { other: "x" } },
        spec: {
          replicas: 0,
          selector: { matchLabels: { other: "x" } },
          template: {
            metadata: { labels: { other: "x" } },
            spec: { containers: [{ name: "c", image: "other" }] },
          },
        },
      }),
    );
    await expect(c.step()).rejects.toThrow(/hash collision/);
    expect((await c.current()).status!.collisionCount).toBe(1);
    await c.settleRollout();
    const ours = (await stored<ReplicaSet>(c.client, "ReplicaSet")).find((rs) => rs.metadata!.name !== name)!;
    expect(ours.metadata!.name).toBe(`web-${computeHash(d.spec!.template, 1)}`);
    expect(ours.spec!.template!.metadata!.labels["pod-template-hash"]).toBe(computeHash(d.spec!.template, 1));
  });

  it("adopts an orphan ReplicaSet it selects and refuses an empty selector", async () => {
    const c = await cluster(deployment(1, "nginx"));
    await c.settleRollout();
    const rs = (await stored<ReplicaSet>(c.client, "ReplicaSet"))[0]!;
    await c.client
      .resource<ReplicaSet>("ReplicaSet")
      .update({ ...rs, metadata: { ...rs.metadata!, ownerReferences: [] } });
    await c.step();
    const adopted = (await stored<ReplicaSet>(c.client, "ReplicaSet"))[0]!;
    expect(adopted.metadata!.ownerReferences).toMatchObject([
      { kind: "Deployment", name: "web", uid: "d-uid", controller: true },
    ]);
    await c.change((d) => {
      d.spec!.selector = { $type: "tskube.v1.LabelSelector", matchLabels: {}, matchExpressions: [] };
    });
    await c.step();
    expect(await c.events()).toContain(
      "SelectingAll: This deployment is selecting all pods. A non-empty selector is required.",
    );
  });
});
