import { Container, Pod } from "@tskube/api";
import type { EventRecorder } from "@tskube/controller";
import { silentLogger } from "@tskube/log";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ProbeManager } from "./prober.js";
import { FakeRuntime } from "./runtime/fake.js";

/** Answers exec probes with exitCode; any other change to a container is a test failure. */
class ProbeOnly extends FakeRuntime {
  exitCode = 0;
  execs = 0;
  override async execSync() {
    this.execs++;
    return { exitCode: this.exitCode, stdout: "", stderr: "" };
  }
  override async stopContainer(): Promise<void> {
    throw new Error("a probe worker must not stop a container");
  }
}

describe("ProbeManager", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("records a liveness failure past the threshold for the pod's worker and probes no more", async () => {
    vi.useFakeTimers();
    const runtime = new ProbeOnly("10.1.0.0");
    const events: string[] = [];
    const recorder = {
      event: async (_o: unknown, _t: string, reason: string, message: string) => {
        events.push(`${reason} ${message}`);
      },
    } as unknown as EventRecorder;
    const changed: string[] = [];
    const probes = new ProbeManager({
      runtime,
      recorder,
      log: silentLogger,
      onChange: (u) => changed.push(u),
    });
    const container = Container.fromPartial({
      name: "app",
      livenessProbe: { exec: { command: ["check"] }, periodSeconds: 1, failureThreshold: 2 },
    });
    const pod = Pod.fromPartial({ metadata: { name: "web", namespace: "default", uid: "uid-1" } });
    probes.ensure(pod, container, "c1", "10.1.0.2");
    probes.ensure(pod, container, "c1", "10.1.0.2");
    // Alive until a probe says otherwise.
    expect(probes.verdict("c1", "liveness", container)).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(runtime.execs).toBe(1);
    expect(changed).toEqual(["uid-1"]);
    runtime.exitCode = 1;
    await vi.advanceTimersByTimeAsync(1000);
    // One failure is below the threshold.
    expect(probes.restartReason("c1")).toBeUndefined();
    expect(events).toEqual(["Unhealthy Liveness probe failed: command exited with 1"]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(probes.restartReason("c1")).toEqual({
      kind: "liveness",
      message: "Container app failed liveness probe, will be restarted",
    });
    expect(changed).toEqual(["uid-1", "uid-1"]);
    // On hold: the container is the pod worker's to replace, and is not probed meanwhile.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(runtime.execs).toBe(3);
    // Gone from the runtime: its probes and verdicts go.
    probes.retain(new Set());
    expect(probes.restartReason("c1")).toBeUndefined();
  });

  it("readiness gates on startup; a readiness failure is never a reason to restart", async () => {
    vi.useFakeTimers();
    const runtime = new ProbeOnly("10.1.0.0");
    const recorder = { event: async () => undefined } as unknown as EventRecorder;
    const probes = new ProbeManager({ runtime, recorder, log: silentLogger, onChange: () => {} });
    const container = Container.fromPartial({
      name: "app",
      startupProbe: { exec: { command: ["started"] }, periodSeconds: 5, failureThreshold: 10 },
      readinessProbe: { exec: { command: ["ready"] }, periodSeconds: 1, failureThreshold: 1 },
    });
    const pod = Pod.fromPartial({ metadata: { name: "web", namespace: "default", uid: "uid-1" } });
    runtime.exitCode = 1;
    probes.ensure(pod, container, "c1", "");
    await vi.advanceTimersByTimeAsync(3000);
    // Only the startup probe ran (at 0 s); readiness waited for it.
    expect(runtime.execs).toBe(1);
    expect(probes.verdict("c1", "startup", container)).toBe(false);
    runtime.exitCode = 0;
    await vi.advanceTimersByTimeAsync(2000);
    expect(probes.verdict("c1", "startup", container)).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(probes.verdict("c1", "readiness", container)).toBe(true);
    runtime.exitCode = 1;
    await vi.advanceTimersByTimeAsync(1000);
    expect(probes.verdict("c1", "readiness", container)).toBe(false);
    expect(probes.restartReason("c1")).toBeUndefined();
    probes.retain(new Set());
  });
});
