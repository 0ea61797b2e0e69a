import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Deployment, KINDS, type KubeObject, type Pod, type ReplicaSet } from "@tskube/api";
import type { PropagationPolicy } from "@tskube/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import {
  type ComponentHandle,
  freePort,
  startComponent,
  startControllerManager,
  waitFor,
} from "./harness.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;

function deployment(name: string) {
  return Deployment.fromPartial({
    metadata: { name, namespace: "default" },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "c", image: "busybox:1.36", command: ["sleep", "3600"] }] },
      },
    },
  });
}

/** Deleting a Deployment with each propagation policy, with hollow kubelets running its pods. */
describe("garbage collector", () => {
  const c = useCluster();
  const procs: ComponentHandle[] = [];

  beforeAll(async () => {
    procs.push(
      await startComponent("scheduler", ["--server", c.servers.join(","), "--leader-elect", "false"]),
    );
    procs.push(
      await startComponent("kubelet", [
        "--server",
        c.servers.join(","),
        "--runtime",
        "fake",
        "--node-name",
        "hollow-gc",
        "--pod-cidr",
        "10.210.0.0/16",
        "--port",
        String(await freePort()),
        "--root-dir",
        mkdtempSync(join(tmpdir(), "tskube-hollow-")),
        "--pleg-relist-period",
        "200ms",
      ]),
    );
    procs.push(await startControllerManager(c.servers, "cm-gc"));
  });
  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop();
  });

  const deployments = () => c.client.resource<Deployment>(kind("Deployment") as never);
  const sets = () => c.client.resource<ReplicaSet>(kind("ReplicaSet") as never);
  const pods = () => c.client.resource<Pod>(kind("Pod") as never);
  const list = async (app: string) => ({
    sets: (await sets().list({ namespace: "default", labelSelector: `app=${app}` })).items,
    pods: (await pods().list({ namespace: "default", labelSelector: `app=${app}` })).items,
  });
  const running = async (app: string) => {
    await deployments().create(deployment(app));
    await waitFor(`${app} pods running`, async () => {
      const { pods: ps } = await list(app);
      return ps.length === 2 && ps.every((p) => p.status?.phase === "Running");
    });
  };
  const remove = (name: string, propagationPolicy: PropagationPolicy) =>
    deployments().delete(name, { namespace: "default", propagationPolicy });
  const gone = async (name: string) =>
    deployments()
      .get(name, { namespace: "default" })
      .then(
        () => false,
        () => true,
      );

  /** DELETED events of the app's objects, in revision order. */
  function deletions(app: string) {
    const ac = new AbortController();
    const seen: { kind: string; rv: number }[] = [];
    const watch = async (
      r: { watch(o: object): AsyncIterable<{ type: string; object: KubeObject }> },
      k: string,
    ) => {
      try {
        for await (const ev of r.watch({ namespace: "default", signal: ac.signal })) {
          const m = ev.object.metadata!;
          if (ev.type === "DELETED" && (m.name === app || m.labels.app === app))
            seen.push({ kind: k, rv: Number(m.resourceVersion) });
        }
      } catch {
        // Ends when stopped.
      }
    };
    const done = Promise.all([
      watch(deployments(), "Deployment"),
      watch(sets(), "ReplicaSet"),
      watch(pods(), "Pod"),
    ]);
    return {
      seen,
      async stop() {
        ac.abort();
        await done;
      },
    };
  }

  it("Background: the ReplicaSets and pods go after the Deployment", async () => {
    await running("bg");
    await remove("bg", "Background");
    expect(await gone("bg")).toBe(true);
    await waitFor("cascade", async () => {
      const l = await list("bg");
      return l.sets.length === 0 && l.pods.length === 0;
    });
  });

  it("Orphan: the Deployment goes, its ReplicaSet stays without an owner and keeps its pods", async () => {
    await running("orphan");
    await remove("orphan", "Orphan");
    await waitFor("deployment gone", () => gone("orphan"));
    const l = await list("orphan");
    expect(l.sets.length).toBe(1);
    expect(l.sets[0]!.metadata!.ownerReferences).toEqual([]);
    expect(l.pods.length).toBe(2);
    expect(l.pods.every((p) => p.metadata!.ownerReferences[0]?.uid === l.sets[0]!.metadata!.uid)).toBe(true);
  });

  it("Foreground: the pods, then the ReplicaSet, then the Deployment", async () => {
    await running("fg");
    const rec = deletions("fg");
    await remove("fg", "Foreground");
    const marked = await deployments().get("fg", { namespace: "default" });
    expect(marked.metadata!.finalizers).toContain("foregroundDeletion");
    await waitFor("deployment gone", () => gone("fg"), 60_000);
    expect(await list("fg")).toEqual({ sets: [], pods: [] });
    await waitFor("all deletions seen", async () => rec.seen.length === 4);
    await rec.stop();
    const order = [...rec.seen].sort((a, b) => a.rv - b.rv).map((d) => d.kind);
    expect(order).toEqual(["Pod", "Pod", "ReplicaSet", "Deployment"]);
  });
});
