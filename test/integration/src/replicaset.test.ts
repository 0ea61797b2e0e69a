import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Event, KINDS, type Lease, Pod, ReplicaSet } from "@tskube/api";
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
const COST = "controller.kubernetes.io/pod-deletion-cost";

function replicaSet(name: string, replicas: number) {
  return ReplicaSet.fromPartial({
    metadata: { name, namespace: "default" },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "c", image: "busybox:1.36", command: ["sleep", "3600"] }] },
      },
    },
  });
}

const isActive = (p: Pod) =>
  !p.metadata?.deletionTimestamp && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed";
const isReady = (p: Pod) =>
  p.status?.conditions.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/**
 * ReplicaSets with real etcd, apiserver, scheduler, two hollow kubelets (fake runtime: pods go
 * Running and Ready without processes) and two controller-manager processes, one leading.
 */
describe("ReplicaSet controller", () => {
  const c = useCluster();
  const procs: ComponentHandle[] = [];
  const managers = new Map<string, ComponentHandle>();

  beforeAll(async () => {
    procs.push(
      await startComponent("scheduler", ["--server", c.servers.join(","), "--leader-elect", "false"]),
    );
    for (const n of [1, 2]) {
      procs.push(
        await startComponent("kubelet", [
          "--server",
          c.servers.join(","),
          "--runtime",
          "fake",
          "--node-name",
          `hollow-${n}`,
          "--pod-cidr",
          `10.20${n}.0.0/16`,
          "--port",
          String(await freePort()),
          "--root-dir",
          mkdtempSync(join(tmpdir(), "tskube-hollow-")),
          "--node-status-update-frequency",
          "2s",
          "--node-lease-renew-interval",
          "2s",
          "--pleg-relist-period",
          "200ms",
        ]),
      );
    }
    for (const id of ["cm-a", "cm-b"]) managers.set(id, await startControllerManager(c.servers, id));
  });
  afterAll(async () => {
    for (const m of managers.values()) await m.stop();
    for (const p of procs.reverse()) await p.stop();
  });

  const pods = () => c.client.resource<Pod>(kind("Pod") as never);
  const sets = () => c.client.resource<ReplicaSet>(kind("ReplicaSet") as never);
  const podsOf = async (app: string) =>
    (await pods().list({ namespace: "default", labelSelector: `app=${app}` })).items.filter(isActive);
  const eventsOf = async (name: string, reason: string) =>
    (
      await c.client
        .resource<Event>(kind("Event") as never)
        .list({ namespace: "default", fieldSelector: `involvedObject.name=${name},reason=${reason}` })
    ).items;
  const readyPods = async (app: string, n: number) => {
    await waitFor(`${n} ready ${app} pods`, async () => {
      const ps = await podsOf(app);
      return ps.length === n && ps.every(isReady);
    });
    return await podsOf(app);
  };

  /** Every change to the app's pods, kept to check what was never exceeded or what was seen. */
  function record(app: string) {
    const ac = new AbortController();
    const seen: Pod[] = [];
    const done = (async () => {
      try {
        for await (const ev of pods().watch({
          namespace: "default",
          labelSelector: `app=${app}`,
          signal: ac.signal,
        })) {
          if (ev.type !== "BOOKMARK") seen.push(ev.object);
        }
      } catch {
        // The watch ends when the test stops it.
      }
    })();
    return {
      seen,
      async stop() {
        ac.abort();
        await done;
      },
    };
  }

  it("adopts a bare pod carrying its labels and holds the count", async () => {
    // A ready bare pod first: the ReplicaSet takes it and creates only the rest.
    await pods().create(
      Pod.fromPartial({
        metadata: { name: "bare-adopted", namespace: "default", labels: { app: "adopt" } },
        spec: { containers: [{ name: "c", image: "busybox:1.36", command: ["sleep", "3600"] }] },
      }),
    );
    await readyPods("adopt", 1);
    const rs = await sets().create(replicaSet("adopt", 3));
    const ps = await readyPods("adopt", 3);
    const bare = ps.find((p) => p.metadata!.name === "bare-adopted")!;
    expect(bare.metadata!.ownerReferences).toMatchObject([
      { apiVersion: "apps/v1", kind: "ReplicaSet", name: "adopt", uid: rs.metadata!.uid, controller: true },
    ]);
    expect(ps.every((p) => p.metadata!.ownerReferences[0]?.uid === rs.metadata!.uid)).toBe(true);
    expect((await eventsOf("adopt", "SuccessfulCreate")).reduce((n, e) => n + e.count, 0)).toBe(2);

    // A bare pod joining a full ReplicaSet is adopted, and one pod goes.
    const rec = record("adopt");
    await pods().create(
      Pod.fromPartial({
        metadata: { name: "bare-extra", namespace: "default", labels: { app: "adopt" } },
        spec: { containers: [{ name: "c", image: "busybox:1.36", command: ["sleep", "3600"] }] },
      }),
    );
    await waitFor("one pod removed", async () => (await eventsOf("adopt", "SuccessfulDelete")).length > 0);
    await readyPods("adopt", 3);
    await rec.stop();
    expect(
      rec.seen.some(
        (p) => p.metadata!.name === "bare-extra" && p.metadata!.ownerReferences[0]?.uid === rs.metadata!.uid,
      ),
    ).toBe(true);
    const status = (await sets().get("adopt", { namespace: "default" })).status!;
    expect(status).toMatchObject({
      replicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
      fullyLabeledReplicas: 3,
    });
  });

  it("releases a relabelled pod and makes a replacement", async () => {
    const rs = await sets().create(replicaSet("relabel", 2));
    const [victim] = await readyPods("relabel", 2);
    const name = victim!.metadata!.name;
    await pods().update({ ...victim!, metadata: { ...victim!.metadata!, labels: { app: "debugging" } } });
    await waitFor("released", async () => {
      const p = await pods().get(name, { namespace: "default" });
      return p.metadata!.ownerReferences.length === 0;
    });
    const ps = await readyPods("relabel", 2);
    expect(ps.map((p) => p.metadata!.name)).not.toContain(name);
    expect(ps.every((p) => p.metadata!.ownerReferences[0]?.uid === rs.metadata!.uid)).toBe(true);
    // The released pod lives on, owned by nobody.
    expect(isActive(await pods().get(name, { namespace: "default" }))).toBe(true);
  });

  it("scales down the pods with the lowest pod-deletion-cost first", async () => {
    await sets().create(replicaSet("costs", 5));
    const ps = await readyPods("costs", 5);
    const costs = ["10", "-5", "3", "0", "7"];
    for (const [i, p] of ps.entries()) {
      const fresh = await pods().get(p.metadata!.name, { namespace: "default" });
      await pods().update({
        ...fresh,
        metadata: { ...fresh.metadata!, annotations: { ...fresh.metadata!.annotations, [COST]: costs[i]! } },
      });
    }
    const rs = await sets().get("costs", { namespace: "default" });
    await sets().update({ ...rs, spec: { ...rs.spec!, replicas: 2 } });
    await waitFor("scaled to 2", async () => (await podsOf("costs")).length === 2);
    const left = (await podsOf("costs")).map((p) => p.metadata!.annotations[COST]).sort();
    expect(left).toEqual(["10", "7"]);
    const deleted = (await eventsOf("costs", "SuccessfulDelete")).map((e) => e.message).sort();
    expect(deleted).toEqual(
      ps
        .filter((_, i) => ["-5", "3", "0"].includes(costs[i]!))
        .map((p) => `Deleted pod: ${p.metadata!.name}`)
        .sort(),
    );
  });

  it("carries on under the standby when the leader is SIGKILLed, without duplicate pods", async () => {
    const leases = c.client.resource<Lease>(kind("Lease") as never);
    const holder = async () =>
      (await leases.get("kube-controller-manager", { namespace: "kube-system" })).spec?.holderIdentity ?? "";
    await waitFor("a leader", async () => managers.has(await holder()));
    const leader = await holder();
    const standby = [...managers.keys()].find((id) => id !== leader)!;
    await sets().create(replicaSet("failover", 2));
    await readyPods("failover", 2);
    const rec = record("failover");
    const killedAt = Date.now();
    await managers.get(leader)!.kill();
    managers.delete(leader);
    const rs = await sets().get("failover", { namespace: "default" });
    await sets().update({ ...rs, spec: { ...rs.spec!, replicas: 6 } });
    await waitFor("standby leads", async () => (await holder()) === standby, 30_000);
    const tookOver = Date.now() - killedAt;
    await readyPods("failover", 6);
    const reconciled = Date.now() - killedAt;
    await rec.stop();
    // Never more than 6 active pods at any point of the watch: nothing was created twice.
    const active = new Map<string, boolean>();
    let most = 0;
    for (const p of rec.seen) {
      active.set(p.metadata!.name, isActive(p));
      most = Math.max(most, [...active.values()].filter(Boolean).length);
    }
    expect(most).toBe(6);
    const st = (await sets().get("failover", { namespace: "default" })).status!;
    expect(st.replicas).toBe(6);
    console.log(
      `controller-manager failover: lease taken ${tookOver} ms and 6 pods ready ${reconciled} ms after SIGKILL (lease 3 s, retry 0.5 s)`,
    );
  });
});
