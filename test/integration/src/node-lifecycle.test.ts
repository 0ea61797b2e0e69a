import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Event, type Node, Pod, ReplicaSet } from "@tskube/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import {
  type ComponentHandle,
  freePort,
  startComponent,
  startControllerManager,
  waitFor,
} from "./harness.js";

const TOLERATION_SECONDS = 3;

/** A hollow kubelet (fake runtime) that heartbeats every second; restartable with the same state. */
async function hollowKubelet(servers: string[], name: string, rootDir: string, port: number) {
  return startComponent("kubelet", [
    "--server",
    servers.join(","),
    "--runtime",
    "fake",
    "--node-name",
    name,
    "--pod-cidr",
    name === "hollow-1" ? "10.201.0.0/16" : "10.202.0.0/16",
    "--port",
    String(port),
    "--root-dir",
    rootDir,
    "--node-status-update-frequency",
    "1s",
    "--node-lease-renew-interval",
    "1s",
    "--pleg-relist-period",
    "200ms",
  ]);
}

const isActive = (p: Pod) =>
  !p.metadata?.deletionTimestamp && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed";
const isReady = (p: Pod) =>
  p.status?.conditions.some((c) => c.type === "Ready" && c.status === "True") ?? false;
const taintsOf = (n: Node) => n.spec!.taints.map((t) => `${t.key}:${t.effect}`).sort();

/**
 * A kubelet stopped for good, with real etcd, apiserver (default tolerations of 3 s), scheduler,
 * two hollow kubelets and the controller-manager (grace period 4 s): the node goes Unknown and is
 * tainted, its pods are evicted once their toleration runs out and the ReplicaSet replaces them on
 * the other node; the kubelet comes back and the taints go.
 */
describe("node lifecycle", () => {
  const c = useCluster({
    apiserverArgs: [
      "--default-not-ready-toleration-seconds",
      String(TOLERATION_SECONDS),
      "--default-unreachable-toleration-seconds",
      String(TOLERATION_SECONDS),
    ],
  });
  const procs: ComponentHandle[] = [];
  const kubelets = new Map<string, { handle: ComponentHandle; rootDir: string; port: number }>();

  beforeAll(async () => {
    procs.push(
      await startComponent("scheduler", ["--server", c.servers.join(","), "--leader-elect", "false"]),
    );
    for (const name of ["hollow-1", "hollow-2"]) {
      const rootDir = mkdtempSync(join(tmpdir(), "tskube-hollow-"));
      const port = await freePort();
      kubelets.set(name, { handle: await hollowKubelet(c.servers, name, rootDir, port), rootDir, port });
    }
    procs.push(
      await startControllerManager(c.servers, "cm-a", [
        "--node-monitor-period",
        "1s",
        "--node-monitor-grace-period",
        "4s",
      ]),
    );
  });
  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop();
    for (const k of kubelets.values()) await k.handle.stop();
  });

  it("evicts the pods of a node whose kubelet stopped, replaces them on the other node, and untaints it when it is back", async () => {
    const pods = c.client.resource<Pod>("pods");
    const nodes = c.client.resource<Node>("nodes");
    await waitFor("both nodes Ready", async () => {
      const items = (await nodes.list()).items;
      return (
        items.length === 2 &&
        items.every((n) => n.status?.conditions.some((x) => x.type === "Ready" && x.status === "True"))
      );
    });
    // Pods get the admission's default tolerations.
    const bare = await pods.create(
      Pod.fromPartial({
        metadata: { name: "bare", namespace: "default" },
        spec: {
          nodeName: "hollow-1",
          containers: [{ name: "c", image: "busybox:1.36", command: ["sleep", "3600"] }],
        },
      }),
    );
    expect(bare.spec!.tolerations.map((t) => `${t.key}:${t.effect}:${t.tolerationSeconds}`).sort()).toEqual([
      `node.kubernetes.io/not-ready:NoExecute:${TOLERATION_SECONDS}`,
      `node.kubernetes.io/unreachable:NoExecute:${TOLERATION_SECONDS}`,
    ]);
    await c.client.resource<ReplicaSet>("replicasets").create(
      ReplicaSet.fromPartial({
        metadata: { name: "web", namespace: "default" },
        spec: {
          replicas: 4,
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" } },
            spec: { containers: [{ name: "c", image: "busybox:1.36", command: ["sleep", "3600"] }] },
          },
        },
      }),
    );
    const web = async () => (await pods.list({ namespace: "default", labelSelector: "app=web" })).items;
    await waitFor(
      "4 ready web pods",
      async () => (await web()).filter((p) => isActive(p) && isReady(p)).length === 4,
    );
    const onNode1 = (await web()).filter((p) => p.spec?.nodeName === "hollow-1").map((p) => p.metadata!.name);
    expect(onNode1.length).toBeGreaterThan(0);

    await kubelets.get("hollow-1")!.handle.kill();

    await waitFor("hollow-1 Unknown and tainted", async () => {
      const n = await nodes.get("hollow-1");
      const ready = n.status!.conditions.find((x) => x.type === "Ready");
      return ready?.status === "Unknown" && taintsOf(n).includes("node.kubernetes.io/unreachable:NoExecute");
    });
    const n1 = await nodes.get("hollow-1");
    expect(n1.status!.conditions.find((x) => x.type === "Ready")).toMatchObject({
      status: "Unknown",
      reason: "NodeStatusUnknown",
      message: "Kubelet stopped posting node status.",
    });
    expect(taintsOf(n1)).toEqual([
      "node.kubernetes.io/unreachable:NoExecute",
      "node.kubernetes.io/unreachable:NoSchedule",
    ]);
    expect(taintsOf(await nodes.get("hollow-2"))).toEqual([]);

    // After the toleration, the ReplicaSet has 4 ready pods again, all on hollow-2.
    await waitFor(
      "replacements on hollow-2",
      async () => {
        const active = (await web()).filter(isActive);
        return active.length === 4 && active.every((p) => p.spec?.nodeName === "hollow-2" && isReady(p));
      },
      60_000,
    );
    for (const name of onNode1) {
      const p = await pods.get(name, { namespace: "default" });
      expect(p.metadata!.deletionTimestamp).not.toBe("");
      expect(p.status!.conditions.find((x) => x.type === "DisruptionTarget")).toMatchObject({
        status: "True",
        reason: "DeletionByTaintManager",
      });
    }
    const events = (await c.client.resource<Event>("events").list({ namespace: "default" })).items;
    const story = events.map((e) => `${e.involvedObject!.name} ${e.reason}: ${e.message}`);
    expect(story).toContain("hollow-1 NodeNotReady: Node hollow-1 status is now: NodeNotReady");
    for (const name of [...onNode1, "bare"]) {
      expect(story).toContain(`${name} NodeNotReady: Node is not ready`);
      expect(story).toContain(`${name} TaintManagerEviction: Marking for deletion Pod default/${name}`);
    }

    // The kubelet comes back: the node is Ready and loses its taints; it finishes the evicted pods.
    const k = kubelets.get("hollow-1")!;
    k.handle = await hollowKubelet(c.servers, "hollow-1", k.rootDir, k.port);
    await waitFor("hollow-1 Ready and untainted", async () => {
      const n = await nodes.get("hollow-1");
      const ready = n.status!.conditions.find((x) => x.type === "Ready");
      return ready?.status === "True" && taintsOf(n).length === 0;
    });
    await waitFor("evicted pods gone", async () => {
      const names = (await pods.list({ namespace: "default" })).items.map((p) => p.metadata!.name);
      return [...onNode1, "bare"].every((n) => !names.includes(n));
    });
    expect((await web()).filter(isActive)).toHaveLength(4);
  }, 120_000);
});
