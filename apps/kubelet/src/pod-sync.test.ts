import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pod } from "@tskube/api";
import type { Client } from "@tskube/client";
import type { EventRecorder } from "@tskube/controller";
import { silentLogger } from "@tskube/log";
import { afterEach, describe, expect, it } from "vitest";
import { RestartBackoff } from "./backoff.js";
import { ContainerKiller } from "./container-kill.js";
import { ContainerStarter } from "./container-start.js";
import { PodSync } from "./pod-sync.js";
import { ProbeManager } from "./prober.js";
import { FakeRuntime } from "./runtime/fake.js";
import { LABEL_CONTAINER_NAME } from "./runtime/types.js";
import { VolumeManager } from "./volumes.js";

class Ops extends FakeRuntime {
  ops: string[] = [];
  private async nameOf(id: string) {
    return (await this.listContainers()).find((c) => c.id === id)?.labels[LABEL_CONTAINER_NAME] ?? id;
  }
  override async startContainer(id: string) {
    this.ops.push(`start ${await this.nameOf(id)}`);
    await super.startContainer(id);
  }
  override async stopContainer(id: string, timeoutSeconds = 0) {
    const c = (await this.listContainers()).find((x) => x.id === id);
    if (c?.state === "RUNNING") this.ops.push(`stop ${await this.nameOf(id)} ${timeoutSeconds}`);
    await super.stopContainer(id, timeoutSeconds);
  }
}

describe("PodSync.syncPod", () => {
  const dirs: string[] = [];
  const probeManagers: ProbeManager[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    for (const p of probeManagers.splice(0)) p.retain(new Set());
  });

  function setup(restartPolicy: string) {
    const runtime = new Ops("10.1.0.0");
    const events: string[] = [];
    const recorder = {
      event: async (_o: unknown, _t: string, reason: string, message: string) => {
        events.push(`${reason} ${message}`);
      },
    } as unknown as EventRecorder;
    const statuses: Pod[] = [];
    const client = {
      resource: () => ({
        updateStatus: async (p: Pod) => {
          statuses.push(p);
          return p;
        },
      }),
    } as unknown as Client;
    const root = mkdtempSync(join(tmpdir(), "tskube-pod-sync-"));
    dirs.push(root);
    const volumes = new VolumeManager(root, client);
    const enqueued: string[] = [];
    const probes = new ProbeManager({
      runtime,
      recorder,
      log: silentLogger,
      onChange: (u) => enqueued.push(u),
    });
    probeManagers.push(probes);
    const killer = new ContainerKiller({ runtime, recorder, log: silentLogger });
    const now = 1_000_000;
    const starter = new ContainerStarter({
      client,
      runtime,
      recorder,
      volumes,
      killer,
      log: silentLogger,
      nodeIp: "127.0.0.1",
      now: () => now,
    });
    const sync = new PodSync({
      client,
      runtime,
      recorder,
      volumes,
      backoff: new RestartBackoff({ initialMs: 10_000, maxMs: 300_000, resetMs: 600_000 }),
      starter,
      killer,
      probes,
      nodeIp: "127.0.0.1",
      now: () => now,
    });
    const pod = Pod.fromPartial({
      metadata: { name: "web", namespace: "default", uid: "uid-1" },
      spec: {
        restartPolicy,
        terminationGracePeriodSeconds: 30,
        containers: [
          {
            name: "app",
            image: "node",
            // Never due in a test: the verdicts are set by hand.
            livenessProbe: {
              exec: { command: ["check"] },
              initialDelaySeconds: 3600,
              terminationGracePeriodSeconds: 3,
            },
          },
        ],
      },
    });
    return { runtime, events, probes, sync, pod, statuses, enqueued };
  }

  it("restarts a container whose liveness failure was recorded, with the probe's grace period", async () => {
    const s = setup("Always");
    await s.sync.syncPod(s.pod);
    const [first] = await s.runtime.listContainers();
    // A synced healthy pod is left as it is.
    await s.sync.syncPod(s.pod);
    expect(s.runtime.ops).toEqual(["start app"]);
    s.probes.results.set("uid-1", first!.id, "liveness", {
      ok: false,
      message: "Container app failed liveness probe, will be restarted",
    });
    expect(s.enqueued).toEqual(["uid-1"]);
    // Recording touched nothing; the next sync kills and starts a new attempt at once.
    expect(s.runtime.ops).toEqual(["start app"]);
    await s.sync.syncPod(s.pod);
    expect(s.runtime.ops).toEqual(["start app", "stop app 3", "start app"]);
    expect(s.events).toContain("Killing Container app failed liveness probe, will be restarted");
    expect(s.probes.restartReason(first!.id)).toBeUndefined();
    const app = s.statuses.at(-1)!.status!.containerStatuses[0]!;
    expect(app.restartCount).toBe(1);
    expect(app.state?.running).toBeDefined();
    expect(app.lastState?.terminated?.exitCode).toBe(143);
  });

  it("a Never pod's unhealthy container is killed and stays down", async () => {
    const s = setup("Never");
    await s.sync.syncPod(s.pod);
    const [first] = await s.runtime.listContainers();
    s.probes.results.set("uid-1", first!.id, "liveness", { ok: false, message: "failed liveness" });
    await s.sync.syncPod(s.pod);
    await s.sync.syncPod(s.pod);
    expect(s.runtime.ops).toEqual(["start app", "stop app 3"]);
    expect(s.statuses.at(-1)!.status!.phase).toBe("Failed");
  });
});
