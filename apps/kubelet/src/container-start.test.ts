import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigMap, Container, Pod } from "@tskube/api";
import type { Client } from "@tskube/client";
import type { EventRecorder } from "@tskube/controller";
import { FakeClient } from "@tskube/controller/testing";
import { silentLogger } from "@tskube/log";
import { afterEach, describe, expect, it } from "vitest";
import { ContainerKiller } from "./container-kill.js";
import { ContainerStarter, limits } from "./container-start.js";
import type { ContainerView } from "./pod-status.js";
import { FakeRuntime } from "./runtime/fake.js";
import { LABEL_ATTEMPT, LABEL_CONTAINER_NAME } from "./runtime/types.js";
import { VolumeManager } from "./volumes.js";

describe("ContainerStarter", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function setup(execExit = 0) {
    const runtime = new (class extends FakeRuntime {
      override async execSync() {
        return { exitCode: execExit, stdout: "", stderr: "" };
      }
    })("10.1.0.0");
    const events: string[] = [];
    const recorder = {
      event: async (_o: unknown, _t: string, reason: string, message: string) => {
        events.push(`${reason} ${message}`);
      },
    } as unknown as EventRecorder;
    const client = new FakeClient();
    await client
      .resource<ConfigMap>("ConfigMap")
      .create(
        ConfigMap.fromPartial({ metadata: { name: "cfg", namespace: "default" }, data: { mode: "fast" } }),
      );
    const root = mkdtempSync(join(tmpdir(), "tskube-start-"));
    dirs.push(root);
    const started: string[] = [];
    const starter = new ContainerStarter({
      client: client as unknown as Client,
      runtime,
      recorder,
      volumes: new VolumeManager(root, client as unknown as Client),
      killer: new ContainerKiller({ runtime, recorder, log: silentLogger }),
      log: silentLogger,
      nodeIp: "192.0.2.1",
      onStarted: (_p, spec, id) => started.push(`${spec.name} ${id}`),
    });
    const sandboxId = await runtime.runPodSandbox({
      podUid: "uid-1",
      name: "web",
      namespace: "default",
      hostname: "web",
      labels: {},
    });
    const sandbox = (await runtime.listPodSandboxes())[0]!;
    expect(sandbox.id).toBe(sandboxId);
    return { runtime, events, starter, started, sandbox };
  }

  const pod = (container: Record<string, unknown>) =>
    Pod.fromPartial({
      metadata: { name: "web", namespace: "default", uid: "uid-1" },
      spec: { nodeName: "node-1", containers: [{ name: "app", image: "node", ...container }] },
    });

  it("resolves fieldRef and configMapKeyRef variables; a missing key is a config error unless optional", async () => {
    const s = await setup();
    const p = pod({
      env: [
        { name: "PLAIN", value: "1" },
        { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
        { name: "IP", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } },
        { name: "MODE", valueFrom: { configMapKeyRef: { name: "cfg", key: "mode" } } },
        { name: "MAYBE", valueFrom: { configMapKeyRef: { name: "cfg", key: "nope", optional: true } } },
      ],
    });
    expect(await s.starter.resolveEnv(p, p.spec!.containers[0]!, "10.1.0.2")).toEqual([
      { name: "PLAIN", value: "1" },
      { name: "NODE", value: "node-1" },
      { name: "IP", value: "192.0.2.1" },
      { name: "MODE", value: "fast" },
    ]);
    const bad = pod({ env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "cfg", key: "nope" } } }] });
    const view: ContainerView = { spec: bad.spec!.containers[0]!, attempts: [], finished: false };
    await s.starter.createAndStart(bad, s.sandbox, bad.spec!.containers[0]!, 0, view, "", new Map());
    expect(view.waitingReason).toEqual({
      reason: "CreateContainerConfigError",
      message: "couldn't find key nope in ConfigMap default/cfg",
    });
    expect(await s.runtime.listContainers()).toEqual([]);
  });

  it("labels the attempt, and its probes begin only once postStart has succeeded", async () => {
    const ok = await setup(0);
    const p = pod({ lifecycle: { postStart: { exec: { command: ["warm"] } } } });
    const view: ContainerView = { spec: p.spec!.containers[0]!, attempts: [], finished: false };
    await ok.starter.createAndStart(p, ok.sandbox, p.spec!.containers[0]!, 2, view, "", new Map());
    const [c] = await ok.runtime.listContainers();
    expect(c!.labels[LABEL_ATTEMPT]).toBe("2");
    expect(c!.labels[LABEL_CONTAINER_NAME]).toBe("app");
    expect(ok.started).toEqual([`app ${c!.id}`]);

    const failing = await setup(1);
    await failing.starter.createAndStart(p, failing.sandbox, p.spec!.containers[0]!, 0, view, "", new Map());
    expect(failing.started).toEqual([]);
    expect(view.waitingReason?.reason).toBe("PostStartHookError");
    expect((await failing.runtime.listContainers())[0]!.state).toBe("EXITED");
  });

  it("limits: CPU in millicores and memory in bytes; no limit when unparsable", () => {
    const c = (l: Record<string, string>) => Container.fromPartial({ resources: { limits: l } });
    expect(limits(c({ cpu: "500m", memory: "64Mi" }))).toEqual({
      cpuMillis: 500,
      memoryBytes: 64 * 1024 * 1024,
    });
    expect(limits(c({}))).toEqual({});
  });
});
