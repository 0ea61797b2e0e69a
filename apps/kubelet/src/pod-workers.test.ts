import { Pod } from "@tskube/api";
import { FakeClock, flush, registerControllerMetrics } from "@tskube/controller";
import { silentLogger } from "@tskube/log";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { type PodSyncFuncs, PodWorkers } from "./pod-workers.js";

const pod = (uid: string, meta: Record<string, unknown> = {}, grace = 30) =>
  Pod.fromPartial({
    metadata: { name: `pod-${uid}`, namespace: "default", uid, ...meta },
    spec: { terminationGracePeriodSeconds: grace, containers: [{ name: "app", image: "busybox" }] },
  });

/** A gate a test opens by hand: a pass that awaits it stays in flight until then. */
function gate() {
  let open!: () => void;
  const wait = new Promise<void>((r) => {
    open = r;
  });
  return { wait, open };
}

/** Records every call in order and how many passes for one uid ever ran at the same time. */
class Recorder implements PodSyncFuncs {
  calls: string[] = [];
  inFlight = new Map<string, number>();
  maxInFlight = 0;
  hold: Promise<void> | undefined;
  failTerminating = 0;

  private async op(uid: string, call: string, fn?: () => Promise<void>): Promise<void> {
    const n = (this.inFlight.get(uid) ?? 0) + 1;
    this.inFlight.set(uid, n);
    this.maxInFlight = Math.max(this.maxInFlight, n);
    this.calls.push(call);
    try {
      await this.hold;
      await fn?.();
    } finally {
      this.inFlight.set(uid, n - 1);
    }
  }

  async syncPod(p: Pod) {
    await this.op(p.metadata!.uid, `sync ${p.metadata!.uid} rv=${p.metadata!.resourceVersion}`);
    return undefined;
  }
  async syncTerminatingPod(p: Pod, grace: number) {
    await this.op(p.metadata!.uid, `terminating ${p.metadata!.uid} grace=${grace}`, async () => {
      if (this.failTerminating-- > 0) throw new Error("runtime unavailable");
    });
  }
  async syncTerminatedPod(uid: string) {
    await this.op(uid, `terminated ${uid}`);
  }
  async deletePod(p: Pod) {
    await this.op(p.metadata!.uid, `delete ${p.metadata!.uid}`);
  }
}

describe("PodWorkers", () => {
  let stop = new AbortController();
  let running: Promise<void> | undefined;
  afterEach(async () => {
    stop.abort();
    await running;
  });

  function start(registry?: Registry) {
    const sync = new Recorder();
    const clock = new FakeClock(1_000);
    stop = new AbortController();
    const metrics = registry ? { metrics: registerControllerMetrics(registry) } : {};
    const w = new PodWorkers({ sync, workers: 4, log: silentLogger, clock, ...metrics });
    running = w.run(stop.signal);
    return { sync, clock, w };
  }

  it("runs one pass per pod at a time, and updates during a pass collapse into one more pass", async () => {
    const { sync, w } = start();
    const g = gate();
    sync.hold = g.wait;
    w.updatePod(pod("a", { resourceVersion: "1" }));
    w.updatePod(pod("b", { resourceVersion: "1" }));
    await flush();
    // Two pods run side by side; the same pod never does.
    expect(sync.calls).toEqual(["sync a rv=1", "sync b rv=1"]);
    for (const rv of ["2", "3", "4"]) w.updatePod(pod("a", { resourceVersion: rv }));
    await flush();
    expect(sync.calls).toHaveLength(2);
    sync.hold = undefined;
    g.open();
    await flush();
    // The second pass sees the latest object only.
    expect(sync.calls).toEqual(["sync a rv=1", "sync b rv=1", "sync a rv=4"]);
    expect(sync.maxInFlight).toBe(1);
  });

  it("a deletion while a sync runs is acted on after it, once, with the deletion's grace period", async () => {
    const { sync, w } = start();
    const g = gate();
    sync.hold = g.wait;
    w.updatePod(pod("a", { resourceVersion: "1" }));
    await flush();
    const deleting = { resourceVersion: "2", deletionTimestamp: "2026-01-01T00:00:12Z" };
    w.updatePod(pod("a", { ...deleting, deletionGracePeriodSeconds: 12 }));
    // The object is gone too (its final delete came from elsewhere) before the worker got to it.
    w.removePod(pod("a", { ...deleting, deletionGracePeriodSeconds: 12 }));
    await flush();
    expect(sync.calls).toEqual(["sync a rv=1"]);
    sync.hold = undefined;
    g.open();
    await flush();
    // Gone already: no final delete of its own, and the worker forgets the pod.
    expect(sync.calls).toEqual(["sync a rv=1", "terminating a grace=12", "terminated a"]);
    expect(w.knows("a")).toBe(false);
    expect(sync.maxInFlight).toBe(1);
    // Later news of a forgotten pod starts nothing.
    w.enqueue("a");
    await flush();
    expect(sync.calls).toHaveLength(3);
  });

  it("a deleted pod is stopped, cleaned up and then deleted with grace 0; its DELETED event ends it", async () => {
    const { sync, w } = start();
    w.updatePod(pod("a", { deletionTimestamp: "2026-01-01T00:00:30Z", deletionGracePeriodSeconds: 30 }));
    await flush();
    expect(sync.calls).toEqual(["terminating a grace=30", "terminated a", "delete a"]);
    // Until the object is gone the worker still knows the pod: housekeeping leaves it alone.
    expect(w.knows("a")).toBe(true);
    // A terminating pod never syncs again; an update just retries the final delete.
    w.updatePod(pod("a", { deletionTimestamp: "2026-01-01T00:00:30Z", deletionGracePeriodSeconds: 30 }));
    await flush();
    expect(sync.calls).toEqual(["terminating a grace=30", "terminated a", "delete a", "delete a"]);
    w.removePod(pod("a"));
    await flush();
    expect(sync.calls).toHaveLength(4);
    expect(w.knows("a")).toBe(false);
  });

  it("a pod whose object vanished without a deletion gets its own grace period", async () => {
    const { sync, w } = start();
    w.updatePod(pod("a", {}, 5));
    await flush();
    w.removePod(pod("a", {}, 5));
    await flush();
    expect(sync.calls).toEqual(["sync a rv=", "terminating a grace=5", "terminated a"]);
  });

  it("a failed stop is retried with the queue's back-off", async () => {
    const { sync, clock, w } = start();
    sync.failTerminating = 1;
    w.updatePod(pod("a", { deletionTimestamp: "2026-01-01T00:00:30Z", deletionGracePeriodSeconds: 30 }));
    await flush();
    expect(sync.calls).toEqual(["terminating a grace=30"]);
    await clock.step(1);
    expect(sync.calls).toHaveLength(1);
    await clock.step(10);
    expect(sync.calls).toEqual([
      "terminating a grace=30",
      "terminating a grace=30",
      "terminated a",
      "delete a",
    ]);
  });

  it("a shorter grace period given before the containers are stopped wins; a longer one does not", async () => {
    const { sync, w } = start();
    sync.failTerminating = 1;
    w.updatePod(pod("a", { deletionTimestamp: "2026-01-01T00:00:30Z", deletionGracePeriodSeconds: 30 }));
    await flush();
    w.updatePod(pod("a", { deletionTimestamp: "2026-01-01T00:00:05Z", deletionGracePeriodSeconds: 5 }));
    await flush();
    expect(sync.calls.slice(0, 4)).toEqual([
      "terminating a grace=30",
      "terminating a grace=5",
      "terminated a",
      "delete a",
    ]);
    // Stopped is stopped: a later deletion neither stops again nor lengthens anything.
    const before = sync.calls.length;
    w.updatePod(pod("a", { deletionTimestamp: "2026-01-01T00:01:00Z", deletionGracePeriodSeconds: 60 }));
    await flush();
    expect(sync.calls.slice(before)).toEqual(["delete a"]);
  });

  it("an orphan (runtime only) is cleaned up; housekeeping cannot take a pod a worker knows", async () => {
    const { sync, w } = start();
    w.updatePod(pod("a"));
    w.removeOrphan("a");
    w.removeOrphan("zombie");
    await flush();
    expect(sync.calls).toEqual(["sync a rv=", "terminated zombie"]);
    expect(w.knows("zombie")).toBe(false);
    expect(w.knows("a")).toBe(true);
  });

  it("reports its queue and passes under Kubernetes' workqueue and controller-runtime names", async () => {
    const registry = new Registry();
    const { sync, clock, w } = start(registry);
    sync.failTerminating = 1;
    w.updatePod(pod("a"));
    w.updatePod(pod("b", { deletionTimestamp: "2026-01-01T00:00:30Z", deletionGracePeriodSeconds: 30 }));
    await flush();
    await clock.step(10);
    const text = await registry.metrics();
    expect(text).toContain('workqueue_adds_total{name="pod-workers"} 3');
    expect(text).toContain('workqueue_retries_total{name="pod-workers"} 1');
    expect(text).toContain('controller_runtime_reconcile_total{controller="pod-workers",result="success"} 2');
    expect(text).toContain('controller_runtime_reconcile_total{controller="pod-workers",result="error"} 1');
  });
});
