import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Deployment, type Event, KINDS, type Pod, type ReplicaSet } from "@tskube/api";
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
const REVISION = "deployment.kubernetes.io/revision";

const isActive = (p: Pod) =>
  !p.metadata?.deletionTimestamp && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed";
const isReady = (p: Pod) =>
  p.status?.conditions.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/**
 * Deployments with real etcd, apiserver, scheduler, two kubelets with the process runtime (a
 * container is a `sleep` process) and the controller-manager process. The process runtime has no
 * images: a container without a command cannot start there, which is this test's impossible image.
 */
describe("Deployment controller", () => {
  const c = useCluster();
  const procs: ComponentHandle[] = [];

  beforeAll(async () => {
    procs.push(
      await startComponent("scheduler", ["--server", c.servers.join(","), "--leader-elect", "false"]),
    );
    for (const n of [1, 2]) {
      procs.push(
        await startComponent("kubelet", [
          "--server",
          c.servers.join(","),
          "--node-name",
          `node-${n}`,
          "--pod-cidr",
          `127.${60 + n}.0.0/16`,
          "--port",
          String(await freePort()),
          "--root-dir",
          mkdtempSync(join(tmpdir(), "tskube-kubelet-")),
          "--process-isolation",
          "none",
          "--node-status-update-frequency",
          "2s",
          "--node-lease-renew-interval",
          "2s",
          "--pleg-relist-period",
          "200ms",
        ]),
      );
    }
    procs.push(await startControllerManager(c.servers, "cm-a"));
  });
  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop();
  });

  const deployments = () => c.client.resource<Deployment>(kind("Deployment") as never);
  const sets = () => c.client.resource<ReplicaSet>(kind("ReplicaSet") as never);
  const pods = () => c.client.resource<Pod>(kind("Pod") as never);
  const get = () => deployments().get("web", { namespace: "default" });
  const replicaSets = async () =>
    (await sets().list({ namespace: "default", labelSelector: "app=web" })).items
      .map((rs) => ({
        name: rs.metadata!.name,
        revision: rs.metadata!.annotations[REVISION] ?? "",
        replicas: rs.spec!.replicas,
        image: rs.spec!.template!.spec!.containers[0]!.image,
        template: rs.spec!.template!,
      }))
      .sort((a, b) => Number(a.revision) - Number(b.revision));
  const change = async (fn: (d: Deployment) => void) => {
    const d = await get();
    fn(d);
    await deployments().update(d);
  };
  const complete = async () =>
    waitFor(
      "rollout complete",
      async () => {
        const d = await get();
        const s = d.status;
        const p = s?.conditions.find((x) => x.type === "Progressing");
        return (
          !!s &&
          s.observedGeneration === d.metadata!.generation &&
          s.updatedReplicas === d.spec!.replicas &&
          s.replicas === d.spec!.replicas &&
          s.availableReplicas === d.spec!.replicas &&
          p?.reason === "NewReplicaSetAvailable"
        );
      },
      90_000,
    );

  /** Active and ready pod counts after every pod change, from a watch. */
  function podCounts() {
    const ac = new AbortController();
    const state = new Map<string, Pod>();
    const samples: { active: number; ready: number }[] = [];
    const done = (async () => {
      try {
        for await (const ev of pods().watch({
          namespace: "default",
          labelSelector: "app=web",
          signal: ac.signal,
        })) {
          if (ev.type === "BOOKMARK") continue;
          if (ev.type === "DELETED") state.delete(ev.object.metadata!.name);
          else state.set(ev.object.metadata!.name, ev.object);
          const active = [...state.values()].filter(isActive);
          samples.push({ active: active.length, ready: active.filter(isReady).length });
        }
      } catch {
        // Ends when stopped.
      }
    })();
    return {
      samples,
      async stop() {
        ac.abort();
        await done;
      },
    };
  }

  it("rolls 8 replicas out with the 25% defaults: never more than 10 pods, never fewer than 6 available", async () => {
    await deployments().create(
      Deployment.fromPartial({
        metadata: { name: "web", namespace: "default" },
        spec: {
          replicas: 8,
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" } },
            spec: {
              terminationGracePeriodSeconds: 1,
              containers: [{ name: "web", image: "busybox:1.36", command: ["sleep", "3600"] }],
            },
          },
        },
      }),
    );
    await complete();
    const counts = podCounts();
    // Let the watch replay the current pods before the rollout starts.
    await waitFor("watch caught up", async () => counts.samples.at(-1)?.ready === 8);
    const before = counts.samples.length;
    await change((d) => {
      d.spec!.template!.spec!.containers[0]!.image = "busybox:1.37";
    });
    await complete();
    await counts.stop();
    const during = counts.samples.slice(before);
    expect(during.length).toBeGreaterThan(16);
    expect(Math.max(...during.map((s) => s.active))).toBeLessThanOrEqual(10);
    expect(Math.min(...during.map((s) => s.ready))).toBeGreaterThanOrEqual(6);
    const rss = await replicaSets();
    expect(rss.map((r) => [r.revision, r.image, r.replicas])).toEqual([
      ["1", "busybox:1.36", 0],
      ["2", "busybox:1.37", 8],
    ]);
    expect(rss[1]!.name).toBe(`web-${rss[1]!.template.metadata!.labels["pod-template-hash"]}`);
    const d = await get();
    expect(d.metadata!.annotations[REVISION]).toBe("2");
    expect(d.status!.conditions.find((x) => x.type === "Available")).toMatchObject({
      status: "True",
      reason: "MinimumReplicasAvailable",
    });
    const events = (
      await c.client
        .resource<Event>(kind("Event") as never)
        .list({ namespace: "default", fieldSelector: "involvedObject.name=web,reason=ScalingReplicaSet" })
    ).items.map((e) => e.message);
    expect(events).toContain(`Scaled up replica set ${rss[1]!.name} from 0 to 2`);
    expect(events.some((m) => m.startsWith(`Scaled down replica set ${rss[0]!.name} from 8 to`))).toBe(true);
    expect(
      events.some((m) => m.startsWith(`Scaled down replica set ${rss[0]!.name} from`) && m.endsWith(" to 0")),
    ).toBe(true);
  });

  it("keeps the old pods serving when the new image cannot start, reports the deadline, and rolls back", async () => {
    const counts = podCounts();
    await waitFor("watch caught up", async () => counts.samples.at(-1)?.ready === 8);
    // Only what happens from here on counts (the replay of the current pods starts from 1).
    const from = counts.samples.length;
    const during = () => counts.samples.slice(from);
    await change((d) => {
      d.spec!.progressDeadlineSeconds = 10;
      // No command: the process runtime cannot start this image.
      d.spec!.template!.spec!.containers[0] = {
        ...d.spec!.template!.spec!.containers[0]!,
        image: "registry.invalid/does-not-exist:v9",
        command: [],
      };
    });
    await waitFor(
      "ProgressDeadlineExceeded",
      async () =>
        (await get()).status?.conditions.some(
          (x) => x.type === "Progressing" && x.status === "False" && x.reason === "ProgressDeadlineExceeded",
        ) ?? false,
      60_000,
    );
    let rss = await replicaSets();
    expect(rss.map((r) => [r.revision, r.replicas])).toEqual([
      ["1", 0],
      ["2", 6],
      ["3", 4],
    ]);
    const d = await get();
    expect(d.status).toMatchObject({ availableReplicas: 6, updatedReplicas: 4 });
    expect(d.status!.conditions.find((x) => x.type === "Available")?.status).toBe("True");
    expect(Math.min(...during().map((s) => s.ready))).toBeGreaterThanOrEqual(6);
    expect(Math.max(...during().map((s) => s.active))).toBeLessThanOrEqual(10);

    // `kubectl rollout undo`: the client copies revision 2's template (without its hash label) back.
    const previous = structuredClone(rss.find((r) => r.revision === "2")!.template);
    delete previous.metadata!.labels["pod-template-hash"];
    await change((x) => {
      x.spec!.template = previous;
    });
    await complete();
    await counts.stop();
    rss = await replicaSets();
    // Revision 2 took the next number (4); the number 2 is gone from the history.
    expect(rss.map((r) => [r.revision, r.image, r.replicas])).toEqual([
      ["1", "busybox:1.36", 0],
      ["3", "registry.invalid/does-not-exist:v9", 0],
      ["4", "busybox:1.37", 8],
    ]);
    expect((await get()).metadata!.annotations[REVISION]).toBe("4");
    expect(Math.min(...during().map((s) => s.ready))).toBeGreaterThanOrEqual(6);
  });
});
