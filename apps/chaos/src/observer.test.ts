import { Lease, Node, Pod } from "@tskube/api";
import { FakeClock } from "@tskube/controller";
import { selectorFromSet } from "@tskube/machinery";
import { describe, expect, it } from "vitest";
import { KillWatch, type KillWatchSpec } from "./observer.js";
import { Timeline } from "./timeline.js";

const workload = { namespace: "default", selector: selectorFromSet({ app: "w" }), replicas: 3 };

function pod(
  name: string,
  node: string,
  opts: { ready?: boolean; restarts?: number; running?: boolean; uid?: string } = {},
): Pod {
  const ready = opts.ready ?? true;
  return Pod.fromPartial({
    metadata: { name, namespace: "default", uid: opts.uid ?? name, labels: { app: "w" } },
    spec: { nodeName: node },
    status: {
      phase: node ? "Running" : "Pending",
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
      containerStatuses: [
        {
          name: "c",
          restartCount: opts.restarts ?? 0,
          state: opts.running === false ? { terminated: { exitCode: 137 } } : { running: { startedAt: "x" } },
        },
      ],
    },
  });
}

const node = (name: string, ready: string) =>
  Node.fromPartial({
    metadata: { name },
    status: { conditions: [{ type: "Ready", status: ready, reason: "NodeStatusUnknown" }] },
  });

function setup(spec: Partial<KillWatchSpec>) {
  const clock = new FakeClock(1_000_000);
  const timeline = new Timeline(100);
  const watch = new KillWatch(
    { killAt: clock.now(), recovery: "none", workload, preexisting: new Set(["a", "b", "c"]), ...spec },
    timeline,
    () => clock.now(),
  );
  return { clock, timeline, watch };
}

describe("KillWatch", () => {
  it("PodKill: detected when the container stops, recovered when it runs again with a higher restartCount", async () => {
    const { clock, timeline, watch } = setup({
      recovery: "restart",
      pod: { uid: "a", name: "a", restarts: 0 },
    });
    const pods = () => [];
    await clock.step(300);
    watch.onPod(pod("a", "node-1", { running: false, ready: false }), pods);
    expect(watch.detectedAt).toBe(1_000_300);
    expect(watch.recoveredAt).toBeUndefined();
    await clock.step(900);
    // restartCount went up but the container is not running yet: not recovered
    watch.onPod(pod("a", "node-1", { restarts: 1, running: false }), pods);
    expect(watch.recoveredAt).toBeUndefined();
    await clock.step(100);
    watch.onPod(pod("a", "node-1", { restarts: 1 }), pods);
    expect(watch.recoveredAt).toBe(1_001_300);
    expect(timeline.entries.map((e) => e.event)).toEqual(["Detected", "ContainerRestarted"]);
    // later changes do not move the recovery
    await clock.step(500);
    watch.onPod(pod("a", "node-1", { restarts: 2 }), pods);
    expect(watch.recoveredAt).toBe(1_001_300);
  });

  it("node loss: NotReady is the detection; recovery when every replica is Ready off the lost node", async () => {
    const { clock, timeline, watch } = setup({ recovery: "replace", node: "node-1" });
    let all = [pod("a", "node-1"), pod("b", "node-1"), pod("c", "node-2")];
    const pods = () => all;
    watch.onNode(node("node-1", "True"));
    await clock.step(8_000);
    watch.onNode(node("node-1", "Unknown"));
    expect(watch.detectedAt).toBe(1_008_000);
    await clock.step(5_000);
    const d = pod("d", "", { ready: false });
    all = [...all, d];
    watch.onPod(d, pods);
    await clock.step(200);
    const d2 = pod("d", "node-3", { ready: false });
    all = [...all.filter((p) => p.metadata?.name !== "d"), d2];
    watch.onPod(d2, pods);
    await clock.step(1_000);
    const d3 = pod("d", "node-3");
    all = [...all.filter((p) => p.metadata?.name !== "d"), d3];
    watch.onPod(d3, pods);
    // two of three replicas are off node-1: not yet
    expect(watch.recoveredAt).toBeUndefined();
    await clock.step(500);
    const e = pod("e", "node-2");
    all = [...all, e];
    watch.onPod(e, pods);
    expect(watch.recoveredAt).toBe(1_014_700);
    expect(timeline.entries.map((x) => x.event)).toEqual([
      "NodeNotReady",
      "ReplacementScheduled",
      "ReplacementRunning",
      "ReplacementReady",
      "ReplacementScheduled",
      "ReplacementRunning",
      "ReplacementReady",
      "Recovered",
    ]);
    await clock.step(20_000);
    watch.onNode(node("node-1", "True"));
    expect(timeline.entries.at(-1)?.event).toBe("NodeReady");
  });

  it("leader kill: LeaseLost at the killed holder's expiry, recovered when another identity holds it", async () => {
    const { clock, timeline, watch } = setup({
      recovery: "lease",
      lease: { key: "kube-system/kube-scheduler", holder: "scheduler-0_1" },
    });
    const lease = (holder: string, renew: number) =>
      Lease.fromPartial({
        metadata: { name: "kube-scheduler", namespace: "kube-system" },
        spec: { holderIdentity: holder, leaseDurationSeconds: 4, renewTime: new Date(renew).toISOString() },
      });
    watch.onLease(lease("scheduler-0_1", 1_000_000 - 500));
    await clock.step(4_200);
    // a lease of another name is ignored
    watch.onLease(
      Lease.fromPartial({
        metadata: { name: "other", namespace: "kube-system" },
        spec: { holderIdentity: "x" },
      }),
    );
    expect(watch.recoveredAt).toBeUndefined();
    watch.onLease(lease("scheduler-1_2", clock.now()));
    expect(watch.recoveredAt).toBe(1_004_200);
    expect(watch.detectedAt).toBe(1_003_500);
    expect(timeline.entries.map((e) => [e.event, e.at])).toEqual([
      ["LeaseLost", 1_003_500],
      ["LeaseAcquired", 1_004_200],
    ]);
  });
});
