import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Container, LifecycleHandler, Pod } from "@tskube/api";
import type { Client } from "@tskube/client";
import type { EventRecorder } from "@tskube/controller";
import { silentLogger } from "@tskube/log";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RestartBackoff } from "./backoff.js";
import { runLifecycleHandler } from "./lifecycle.js";
import { PodSyncer } from "./pod-syncer.js";
import { FakeRuntime } from "./runtime/fake.js";
import { LABEL_CONTAINER_NAME, LABEL_POD_UID } from "./runtime/types.js";
import { VolumeManager } from "./volumes.js";

/** A fake runtime whose exec answers what the test says and which records every call in order. */
class Recording extends FakeRuntime {
  calls: string[] = [];
  execAnswer = { exitCode: 0, stdout: "", stderr: "" };
  // The fake's own execSync takes no arguments; the Runtime interface passes these three.
  override async execSync(id = "", command: string[] = [], timeoutMs = 0) {
    this.calls.push(`exec ${id} ${command.join(" ")} ${timeoutMs}`);
    return this.execAnswer;
  }
  override async stopContainer(id: string, timeoutSeconds = 0) {
    // Cleanup stops every container of a sandbox again: only stops of a running one count.
    const running = (await this.listContainers()).some((c) => c.id === id && c.state === "RUNNING");
    if (running) this.calls.push(`stop ${id} ${timeoutSeconds}`);
    await super.stopContainer(id, timeoutSeconds);
  }
}

const pod = (preStop?: Record<string, unknown>, grace = 30) =>
  Pod.fromPartial({
    metadata: { name: "web", namespace: "default", uid: "uid-1" },
    spec: {
      terminationGracePeriodSeconds: grace,
      containers: [
        {
          name: "app",
          image: "node",
          ports: [{ name: "http", containerPort: 8080 }],
          ...(preStop ? { lifecycle: { preStop: LifecycleHandler.fromPartial(preStop as never) } } : {}),
        },
      ],
    },
    status: { podIp: "127.0.0.1" },
  });

const noSignal = () => new AbortController().signal;

describe("lifecycle handlers", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("exec runs the command in the container and fails with Kubernetes' message on a non-zero exit", async () => {
    const runtime = new Recording("10.1.0.0");
    const p = pod();
    const target = { pod: p, container: p.spec!.containers[0]!, containerId: "c1", podIp: "", runtime };
    const handler = LifecycleHandler.fromPartial({ exec: { command: ["sh", "-c", "drain"] } });
    await runLifecycleHandler(handler, target, { signal: noSignal(), timeoutMs: 5000 });
    expect(runtime.calls).toEqual(["exec c1 sh -c drain 5000"]);
    runtime.execAnswer = { exitCode: 3, stdout: "", stderr: "busy\n" };
    await expect(
      runLifecycleHandler(handler, target, { signal: noSignal(), timeoutMs: 5000 }),
    ).rejects.toThrow(
      `Exec lifecycle hook ([sh -c drain]) for Container "app" in Pod "web_default(uid-1)" failed - error: command 'sh -c drain' exited with 3: busy, message: "busy"`,
    );
  });

  it("httpGet calls the pod IP on the named port with the headers, whatever the status code", async () => {
    const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
    const srv = createServer((req, res) => {
      seen.push({ url: req.url ?? "", headers: req.headers });
      res.statusCode = 500;
      res.end("no");
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as { port: number }).port;
    try {
      const p = pod();
      const container = Container.fromPartial({
        name: "app",
        ports: [{ name: "admin", containerPort: port }],
      });
      const target = {
        pod: p,
        container,
        containerId: "c1",
        podIp: "127.0.0.1",
        runtime: new Recording("10.1.0.0"),
      };
      const handler = LifecycleHandler.fromPartial({
        httpGet: { path: "/shutdown", port: "admin", httpHeaders: [{ name: "X-Drain", value: "now" }] },
      });
      // A hook is a notification: a 500 is still a delivered hook.
      await runLifecycleHandler(handler, target, { signal: noSignal(), timeoutMs: 5000 });
      expect(seen).toHaveLength(1);
      expect(seen[0]!.url).toBe("/shutdown");
      expect(seen[0]!.headers["x-drain"]).toBe("now");
      expect(seen[0]!.headers["user-agent"]).toMatch(/^kube-lifecycle\//);
    } finally {
      await new Promise((r) => srv.close(r));
    }
    // Nobody listens any more: the exchange itself fails.
    const p = pod();
    const container = Container.fromPartial({ name: "app", ports: [{ name: "admin", containerPort: port }] });
    await expect(
      runLifecycleHandler(
        LifecycleHandler.fromPartial({ httpGet: { path: "/shutdown", port: "admin" } }),
        { pod: p, container, containerId: "c1", podIp: "127.0.0.1", runtime: new Recording("10.1.0.0") },
        { signal: noSignal(), timeoutMs: 5000 },
      ),
    ).rejects.toThrow(
      /^HTTP lifecycle hook \(\/shutdown\) for Container "app" in Pod "web_default\(uid-1\)" failed - error: .*ECONNREFUSED/,
    );
    await expect(
      runLifecycleHandler(
        LifecycleHandler.fromPartial({ httpGet: { path: "/", port: "metrics" } }),
        { pod: p, container, containerId: "c1", podIp: "127.0.0.1", runtime: new Recording("10.1.0.0") },
        { signal: noSignal(), timeoutMs: 5000 },
      ),
    ).rejects.toThrow("failed - error: couldn't find port metrics in the container");
  });

  it("sleep waits its seconds, or until the grace period ends it; tcpSocket is refused", async () => {
    vi.useFakeTimers();
    const p = pod();
    const target = {
      pod: p,
      container: p.spec!.containers[0]!,
      containerId: "c1",
      podIp: "",
      runtime: new Recording("10.1.0.0"),
    };
    let done = false;
    void runLifecycleHandler(LifecycleHandler.fromPartial({ sleep: { seconds: 5 } }), target, {
      signal: noSignal(),
      timeoutMs: 30_000,
    }).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    const graceUp = new AbortController();
    done = false;
    void runLifecycleHandler(LifecycleHandler.fromPartial({ sleep: { seconds: 60 } }), target, {
      signal: graceUp.signal,
      timeoutMs: 30_000,
    }).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(1_000);
    graceUp.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(true);
    await expect(
      runLifecycleHandler(LifecycleHandler.fromPartial({ tcpSocket: { port: "8080" } }), target, {
        signal: noSignal(),
        timeoutMs: 1000,
      }),
    ).rejects.toThrow(
      "Cannot run handler: invalid handler: tcpSocket is not supported as a lifecycle handler",
    );
  });
});

describe("PodSyncer.killContainer (preStop before SIGTERM)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  async function setup(p: Pod) {
    const runtime = new Recording("10.1.0.0");
    const events: string[] = [];
    const recorder = {
      event: async (_o: unknown, type: string, reason: string, message: string) => {
        events.push(`${type} ${reason} ${message}`);
      },
    } as unknown as EventRecorder;
    const deletes: string[] = [];
    // The only API call a kill makes: terminate removes the pod object at the end.
    const client = {
      resource: () => ({
        delete: async (name: string, o: { gracePeriodSeconds: number }) => {
          deletes.push(`${name} ${o.gracePeriodSeconds}`);
        },
      }),
    } as unknown as Client;
    const syncer = new PodSyncer({
      client,
      volumes: new VolumeManager("/nonexistent", client),
      runtime,
      recorder,
      backoff: new RestartBackoff({ initialMs: 10_000, maxMs: 300_000, resetMs: 600_000 }),
      nodeName: "node-1",
      nodeIp: "127.0.0.1",
      log: silentLogger,
      now: () => Date.now(),
    });
    const sandbox = await runtime.runPodSandbox({
      podUid: "uid-1",
      name: "web",
      namespace: "default",
      hostname: "web",
      labels: {},
    });
    const id = await runtime.createContainer(sandbox, {
      name: "app",
      image: "node",
      command: ["node"],
      args: [],
      env: [],
      workingDir: "",
      mounts: [],
      labels: { [LABEL_POD_UID]: "uid-1", [LABEL_CONTAINER_NAME]: "app" },
    });
    await runtime.startContainer(id);
    const container = (await runtime.listContainers()).find((c) => c.id === id)!;
    return { runtime, events, syncer, id, container, pod: p, deletes };
  }

  it("runs the hook, then stops the container with the grace period that is left", async () => {
    vi.useFakeTimers();
    const s = await setup(pod({ sleep: { seconds: 3 } }, 10));
    const killed = s.syncer.killContainer(s.pod, s.container, 10, "10.1.0.2");
    await vi.advanceTimersByTimeAsync(2_999);
    expect(s.runtime.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await killed;
    expect(s.runtime.calls).toEqual([`stop ${s.id} 7`]);
    expect(s.events).toEqual(["Normal Killing Stopping container app"]);
  });

  it("a hook that outlasts the grace period is cut off, and SIGTERM still gets 2 s", async () => {
    vi.useFakeTimers();
    const s = await setup(pod({ sleep: { seconds: 600 } }, 5));
    const killed = s.syncer.killContainer(s.pod, s.container, 5, "10.1.0.2");
    await vi.advanceTimersByTimeAsync(4_999);
    expect(s.runtime.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await killed;
    expect(s.runtime.calls).toEqual([`stop ${s.id} 2`]);
  });

  it("a failed hook is an event and the stop goes on; without a hook or a grace period it stops at once", async () => {
    const s = await setup(pod({ exec: { command: ["false"] } }, 30));
    s.runtime.execAnswer = { exitCode: 1, stdout: "", stderr: "" };
    await s.syncer.killContainer(s.pod, s.container, 30, "10.1.0.2");
    expect(s.runtime.calls).toEqual([`exec ${s.id} false 30000`, `stop ${s.id} 30`]);
    expect(s.events).toEqual([
      "Normal Killing Stopping container app",
      "Warning FailedPreStopHook PreStopHook failed",
    ]);

    const forced = await setup(pod({ exec: { command: ["drain"] } }, 30));
    await forced.syncer.killContainer(forced.pod, forced.container, 0, "10.1.0.2");
    expect(forced.runtime.calls).toEqual([`stop ${forced.id} 0`]);

    const plain = await setup(pod(undefined, 30));
    await plain.syncer.killContainer(
      plain.pod,
      plain.container,
      30,
      "10.1.0.2",
      "Container app failed liveness probe, will be restarted",
    );
    expect(plain.runtime.calls).toEqual([`stop ${plain.id} 30`]);
    expect(plain.events).toEqual(["Normal Killing Container app failed liveness probe, will be restarted"]);
  });

  it("a deleted pod's containers get their preStop hooks before SIGTERM (terminate)", async () => {
    const p = pod({ exec: { command: ["drain"] } }, 30);
    p.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z";
    p.metadata!.deletionGracePeriodSeconds = 12;
    const s = await setup(p);
    await s.syncer.sync(p);
    expect(s.runtime.calls).toEqual([`exec ${s.id} drain 12000`, `stop ${s.id} 12`]);
    expect(s.deletes).toEqual(["web 0"]);
  });
});

describe("PodSyncer postStart", () => {
  function setup() {
    const runtime = new (class extends Recording {
      override async startContainer(id: string) {
        this.calls.push(`start ${id}`);
        await super.startContainer(id);
      }
    })("10.1.0.0");
    const events: string[] = [];
    const recorder = {
      event: async (_o: unknown, type: string, reason: string, message: string) => {
        events.push(`${type} ${reason} ${message}`);
      },
    } as unknown as EventRecorder;
    const client = { resource: () => ({ updateStatus: async () => undefined }) } as unknown as Client;
    const root = mkdtempSync(join(tmpdir(), "tskube-poststart-"));
    const syncer = new PodSyncer({
      client,
      volumes: new VolumeManager(root, client),
      runtime,
      recorder,
      backoff: new RestartBackoff({ initialMs: 10_000, maxMs: 300_000, resetMs: 600_000 }),
      nodeName: "node-1",
      nodeIp: "127.0.0.1",
      log: silentLogger,
    });
    const p = Pod.fromPartial({
      metadata: { name: "web", namespace: "default", uid: "uid-1" },
      spec: {
        terminationGracePeriodSeconds: 30,
        containers: [
          {
            name: "app",
            image: "node",
            command: ["node", "app.js"],
            lifecycle: { postStart: { exec: { command: ["warm-cache"] } } },
          },
        ],
      },
    });
    return { runtime, events, syncer, pod: p, cleanup: () => rmSync(root, { recursive: true, force: true }) };
  }

  it("runs the hook right after the container starts and leaves it running when the hook succeeds", async () => {
    const s = setup();
    await s.syncer.sync(s.pod);
    const [c] = await s.runtime.listContainers();
    expect(s.runtime.calls).toEqual([`start ${c!.id}`, `exec ${c!.id} warm-cache 120000`]);
    expect(c!.state).toBe("RUNNING");
    expect(s.events).not.toContain("Warning FailedPostStartHook PostStartHook failed");
    s.cleanup();
  });

  it("kills the container when the hook fails, with Kubernetes' events", async () => {
    const s = setup();
    s.runtime.execAnswer = { exitCode: 1, stdout: "", stderr: "no cache" };
    await s.syncer.sync(s.pod);
    const [c] = await s.runtime.listContainers();
    expect(s.runtime.calls).toEqual([
      `start ${c!.id}`,
      `exec ${c!.id} warm-cache 120000`,
      `stop ${c!.id} 30`,
    ]);
    expect(c!.state).toBe("EXITED");
    expect(s.events.filter((e) => !e.includes("Pull") && !e.includes("Created"))).toEqual([
      "Normal Started Started container app",
      "Warning FailedPostStartHook PostStartHook failed",
      "Normal Killing FailedPostStartHook",
    ]);
    s.cleanup();
  });
});
