import { type Event, Pod } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { FakeClock } from "./clock.js";
import { EventRecorder } from "./event-recorder.js";
import { FakeResourceClient } from "./fake-client.test-helper.js";

describe("EventRecorder", () => {
  it("creates an Event about the object and counts repeats instead of adding new ones", async () => {
    const clock = new FakeClock(Date.parse("2026-01-01T00:00:00Z"));
    const events = new FakeResourceClient<Event>("Event");
    const rec = new EventRecorder({ events, component: "default-scheduler", clock });
    const pod = Pod.fromPartial({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web", namespace: "default", uid: "u1" },
    });
    await rec.event(pod, "Warning", "FailedScheduling", "0/3 nodes are available: 3 Insufficient cpu.");
    await clock.step(5_000);
    await rec.event(pod, "Warning", "FailedScheduling", "0/3 nodes are available: 3 Insufficient cpu.");
    await rec.event(pod, "Normal", "Scheduled", "Successfully assigned default/web to node-1");
    const list = (await events.list()).items;
    expect(list.length).toBe(2);
    const failed = list.find((e) => e.reason === "FailedScheduling")!;
    expect(failed.count).toBe(2);
    expect(failed.type).toBe("Warning");
    expect(failed.involvedObject).toMatchObject({
      kind: "Pod",
      name: "web",
      namespace: "default",
      uid: "u1",
    });
    expect(failed.firstTimestamp).toBe("2026-01-01T00:00:00Z");
    expect(failed.lastTimestamp).toBe("2026-01-01T00:00:05Z");
    expect(failed.source?.component).toBe("default-scheduler");
  });

  it("counts concurrent repeats on one Event", async () => {
    const events = new FakeResourceClient<Event>("Event");
    const rec = new EventRecorder({ events, component: "replicaset-controller", clock: new FakeClock(0) });
    const rs = Pod.fromPartial({ metadata: { name: "web", namespace: "default", uid: "u2" } });
    await Promise.all(
      [1, 2, 3, 4].map(() => rec.event(rs, "Warning", "FailedCreate", "Error creating: quota")),
    );
    const list = (await events.list()).items;
    expect(list.length).toBe(1);
    expect(list[0]!.count).toBe(4);
  });

  it("remembers the 4096 most recently used events: an older one starts a new Event, a recent one is counted", async () => {
    const events = new FakeResourceClient<Event>("Event");
    const rec = new EventRecorder({ events, component: "kubelet", clock: new FakeClock(0) });
    const pod = (i: number) =>
      Pod.fromPartial({ metadata: { name: `p${i}`, namespace: "default", uid: `u${i}` } });
    await rec.event(pod(0), "Normal", "Pulled", "first");
    for (let i = 1; i <= 4096; i++) await rec.event(pod(i), "Normal", "Pulled", "image present");
    // p0 was pushed out by 4096 newer ones; p4096 is the most recent.
    await rec.event(pod(0), "Normal", "Pulled", "first");
    await rec.event(pod(4096), "Normal", "Pulled", "image present");
    const list = (await events.list()).items;
    expect(list.filter((e) => e.involvedObject?.name === "p0").map((e) => e.count)).toEqual([1, 1]);
    expect(list.filter((e) => e.involvedObject?.name === "p4096").map((e) => e.count)).toEqual([2]);
  });
});
