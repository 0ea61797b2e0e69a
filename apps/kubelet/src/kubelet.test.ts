import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pod } from "@tskube/api";
import type { Client } from "@tskube/client";
import type { EventRecorder } from "@tskube/controller";
import { FakeClient } from "@tskube/controller/testing";
import { silentLogger } from "@tskube/log";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Kubelet } from "./kubelet.js";
import { FakeRuntime } from "./runtime/fake.js";
import { LABEL_CONTAINER_NAME, LABEL_POD_UID } from "./runtime/types.js";

/**
 * A fake runtime that records every change it is asked to make, with the pod it belongs to, and
 * counts changes to one pod in flight at once. `holdStart` keeps the next start of that container
 * in flight until released, so a test can act while a pod's worker is in the middle of a sync.
 */
class SerialRuntime extends FakeRuntime {
  ops: string[] = [];
  overlaps: string[] = [];
  probeExitCode = 1;
  private inFlight = new Map<string, string>();
  private holds = new Map<string, Promise<void>>();

  holdStart(container: string): () => void {
    let release!: () => void;
    this.holds.set(
      container,
      new Promise<void>((r) => {
        release = r;
      }),
    );
    return release;
  }

  private async uidOfContainer(id: string) {
    const c = (await this.listContainers()).find((x) => x.id === id);
    return { uid: c?.labels[LABEL_POD_UID] ?? "", name: c?.labels[LABEL_CONTAINER_NAME] ?? "" };
  }

  private async uidOfSandbox(id: string) {
    return (await this.listPodSandboxes()).find((s) => s.id === id)?.podUid ?? "";
  }

  private async change<T>(uid: string, op: string, fn: () => Promise<T>): Promise<T> {
    const busy = this.inFlight.get(uid);
    if (busy) this.overlaps.push(`${op} while ${busy}`);
    this.inFlight.set(uid, op);
    this.ops.push(op);
    try {
      return await fn();
    } finally {
      if (this.inFlight.get(uid) === op) this.inFlight.delete(uid);
    }
  }

  override async runPodSandbox(config: Parameters<FakeRuntime["runPodSandbox"]>[0]) {
    return this.change(config.podUid, "runPodSandbox", () => super.runPodSandbox(config));
  }
  override async stopPodSandbox(id: string) {
    return this.change(await this.uidOfSandbox(id), "stopPodSandbox", () => super.stopPodSandbox(id));
  }
  override async removePodSandbox(id: string) {
    return this.change(await this.uidOfSandbox(id), "removePodSandbox", () => super.removePodSandbox(id));
  }
  override async createContainer(sandboxId: string, config: Parameters<FakeRuntime["createContainer"]>[1]) {
    return this.change(config.labels[LABEL_POD_UID] ?? "", `create ${config.name}`, () =>
      super.createContainer(sandboxId, config),
    );
  }
  override async startContainer(id: string) {
    const { uid, name } = await this.uidOfContainer(id);
    return this.change(uid, `start ${name}`, async () => {
      const hold = this.holds.get(name);
      this.holds.delete(name);
      await hold;
      await super.startContainer(id);
    });
  }
  override async stopContainer(id: string, timeoutSeconds = 0) {
    const { uid, name } = await this.uidOfContainer(id);
    // Stopping a sandbox stops its containers inside the same call: that is not a second change.
    if (this.inFlight.get(uid) === "stopPodSandbox") return super.stopContainer(id, timeoutSeconds);
    const running = (await this.listContainers()).some((c) => c.id === id && c.state === "RUNNING");
    if (!running) return super.stopContainer(id, timeoutSeconds);
    return this.change(uid, `stop ${name} ${timeoutSeconds}`, () => super.stopContainer(id, timeoutSeconds));
  }
  // Probes are reads and run beside the pod's worker, as in Kubernetes; only their verdict matters.
  override async execSync() {
    return { exitCode: this.probeExitCode, stdout: "", stderr: "" };
  }
}

/** Waits for an assertion to hold; generous, since the machine running the tests may be busy. */
const eventually = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 10 });

describe("Kubelet: the pod's worker alone acts on a pod", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function start() {
    const client = new FakeClient();
    const runtime = new SerialRuntime("10.1.0.0");
    const events: string[] = [];
    const recorder = {
      event: async (_o: unknown, _type: string, reason: string, message: string) => {
        events.push(`${reason} ${message}`);
      },
    } as unknown as EventRecorder;
    const rootDir = mkdtempSync(join(tmpdir(), "tskube-kubelet-"));
    dirs.push(rootDir);
    const kubelet = new Kubelet({
      client: client as unknown as Client,
      rootDir,
      runtime,
      recorder,
      nodeName: "node-1",
      nodeIp: "127.0.0.1",
      log: silentLogger,
      backoff: { initialMs: 10_000, maxMs: 300_000, resetMs: 600_000 },
      relistPeriodMs: 20,
    });
    const stop = new AbortController();
    const running = kubelet.run(stop.signal);
    const pods = client.resource<Pod>("Pod");
    const created = await pods.create(
      Pod.fromPartial({
        metadata: { name: "web", namespace: "default" },
        spec: {
          nodeName: "node-1",
          terminationGracePeriodSeconds: 7,
          containers: [
            {
              name: "app",
              image: "busybox",
              livenessProbe: { exec: { command: ["check"] }, periodSeconds: 1, failureThreshold: 1 },
            },
            { name: "sidecar", image: "busybox" },
          ],
        },
      }),
    );
    return {
      runtime,
      events,
      pods,
      uid: created.metadata!.uid,
      async stop() {
        stop.abort();
        await running;
      },
    };
  }

  it("a liveness failure during a sync waits for it; the worker then restarts the container", async () => {
    const k = await start();
    // The first sync starts app (its liveness probe fails at once) and then hangs starting sidecar.
    const release = k.runtime.holdStart("sidecar");
    await eventually(() => expect(k.runtime.ops).toContain("start sidecar"));
    await eventually(() =>
      expect(k.events).toContain("Unhealthy Liveness probe failed: command exited with 1"),
    );
    // Give a kill beside the worker every chance to happen.
    await new Promise((r) => setTimeout(r, 100));
    expect(k.runtime.ops).toEqual([
      "runPodSandbox",
      "create app",
      "start app",
      "create sidecar",
      "start sidecar",
    ]);
    k.runtime.probeExitCode = 0;
    release();
    await eventually(() => expect(k.runtime.ops.filter((o) => o === "start app")).toHaveLength(2));
    expect(k.runtime.ops).toEqual([
      "runPodSandbox",
      "create app",
      "start app",
      "create sidecar",
      "start sidecar",
      "stop app 7",
      "create app",
      "start app",
    ]);
    expect(k.events).toContain("Killing Container app failed liveness probe, will be restarted");
    expect(k.runtime.overlaps).toEqual([]);
    await k.stop();
  }, 30_000);

  it("a pod deleted while a sync runs is ended after it, once, with its grace period", async () => {
    const k = await start();
    k.runtime.probeExitCode = 0;
    const release = k.runtime.holdStart("sidecar");
    await eventually(() => expect(k.runtime.ops).toContain("start sidecar"));
    // A forced delete: the object is gone at once, without a deletionTimestamp the worker saw.
    await k.pods.delete("web", { namespace: "default" });
    await new Promise((r) => setTimeout(r, 100));
    expect(k.runtime.ops.at(-1)).toBe("start sidecar");
    release();
    await eventually(() => expect(k.runtime.ops).toContain("removePodSandbox"));
    await new Promise((r) => setTimeout(r, 100));
    expect(k.runtime.ops.slice(5).sort()).toEqual([
      "removePodSandbox",
      "stop app 7",
      "stop sidecar 7",
      "stopPodSandbox",
    ]);
    // The one overlap is the worker's own: a pod's containers are stopped in parallel.
    expect(k.runtime.overlaps).toHaveLength(1);
    expect(k.runtime.overlaps[0]).toMatch(/^stop (app|sidecar) 7 while stop (app|sidecar) 7$/);
    expect(await k.runtime.listPodSandboxes()).toEqual([]);
    await k.stop();
  }, 30_000);
});
