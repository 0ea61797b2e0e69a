import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Event, KINDS, type Node, Pod } from "@tskube/api";
import { isNotFound } from "@tskube/machinery";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import { type ComponentHandle, freePort, ktl, REPO_ROOT, startComponent, waitFor } from "./harness.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;

function pod(name: string, command: string[], restartPolicy: string, extra: Record<string, unknown> = {}) {
  return Pod.fromPartial({
    metadata: { name, namespace: "default" },
    spec: {
      restartPolicy,
      terminationGracePeriodSeconds: 5,
      containers: [{ name: "main", image: "busybox:1.36", command, ...extra }],
    },
  });
}

describe("kubelet with the process runtime", () => {
  const c = useCluster();
  const rootDir = mkdtempSync(join(tmpdir(), "tskube-kubelet-"));
  let kubelet: ComponentHandle;
  let scheduler: ComponentHandle;
  let kubeletPort = 0;
  const kubeletArgs = () => [
    "--port",
    String(kubeletPort),
    "--server",
    c.servers.join(","),
    "--node-name",
    "node-a",
    "--pod-cidr",
    "127.42.0.0/16",
    "--root-dir",
    rootDir,
    "--crash-loop-backoff-initial",
    "1s",
    "--crash-loop-backoff-max",
    "4s",
    "--node-status-update-frequency",
    "2s",
    "--node-lease-renew-interval",
    "2s",
    "--pleg-relist-period",
    "200ms",
  ];

  beforeAll(async () => {
    kubeletPort = await freePort();
    scheduler = await startComponent("scheduler", [
      "--server",
      c.servers.join(","),
      "--leader-elect",
      "false",
    ]);
    kubelet = await startComponent("kubelet", kubeletArgs());
  });
  afterAll(async () => {
    await kubelet?.stop();
    await scheduler?.stop();
  });

  const pods = () => c.client.resource<Pod>(kind("Pod") as never);
  const get = (name: string) => pods().get(name, { namespace: "default" });

  it("registers a Ready node with capacity and renews its lease", async () => {
    await waitFor(
      "node lease",
      async () =>
        !!(await c.client
          .resource(kind("Lease"))
          .get("node-a", { namespace: "kube-node-lease" })
          .catch(() => undefined)),
      20_000,
    );
    const node = await c.client.resource<Node>(kind("Node") as never).get("node-a");
    expect(node.status?.conditions.find((x) => x.type === "Ready")?.status).toBe("True");
    expect(node.status?.allocatable.pods).toBe("110");
    expect(node.spec?.podCidr).toBe("127.42.0.0/16");
    const lease = await c.client.resource(kind("Lease")).get("node-a", { namespace: "kube-node-lease" });
    expect(lease.metadata?.name).toBe("node-a");
  });

  it("runs the classic first pod to Succeeded and keeps its output", async () => {
    await pods().create(pod("hello", ["echo"], "Never", { args: ["Hello World!"] }));
    await waitFor("hello Succeeded", async () => (await get("hello")).status?.phase === "Succeeded", 30_000);
    const p = await get("hello");
    const cs = p.status!.containerStatuses[0]!;
    expect(cs.state?.terminated).toMatchObject({ exitCode: 0, reason: "Completed" });
    expect(p.status?.podIp).toMatch(/^127\.42\.\d+\.\d+$/);
    expect(p.status?.hostIp).toBe("127.0.0.1");
    const id = cs.containerId.replace("process://", "");
    const log = readFileSync(join(rootDir, "node-a", "containers", id, "log"), "utf8");
    expect(log).toBe("Hello World!\n");
    const logs = await ktl(c.servers.join(","), ["logs", "hello"]);
    expect(logs.stderr).toBe("");
    expect(logs.stdout).toBe("Hello World!\n");
    const events = (
      await c.client
        .resource<Event>(kind("Event") as never)
        .list({ namespace: "default", fieldSelector: "involvedObject.name=hello" })
    ).items.map((e) => e.reason);
    expect(events).toEqual(expect.arrayContaining(["Scheduled", "Pulled", "Created", "Started"]));
    // Pods on a loopback pod CIDR run without isolation, and the kubelet says so.
    expect(events).toContain("NoIsolation");
  });

  it("ends a Never pod Failed with its exit code", async () => {
    await pods().create(pod("fails", ["sh", "-c", "exit 3"], "Never"));
    await waitFor("fails Failed", async () => (await get("fails")).status?.phase === "Failed", 30_000);
    expect((await get("fails")).status!.containerStatuses[0]!.state?.terminated).toMatchObject({
      exitCode: 3,
      reason: "Error",
    });
  });

  it("restarts an Always pod with growing back-off: RESTARTS counts up and CrashLoopBackOff shows", async () => {
    await pods().create(pod("crasher", ["sh", "-c", "echo crash; exit 1"], "Always"));
    await waitFor(
      "3 restarts",
      async () => ((await get("crasher")).status?.containerStatuses[0]?.restartCount ?? 0) >= 3,
      40_000,
    );
    let sawBackoff = false;
    await waitFor(
      "CrashLoopBackOff",
      async () => {
        const cs = (await get("crasher")).status?.containerStatuses[0];
        sawBackoff ||= cs?.state?.waiting?.reason === "CrashLoopBackOff";
        return sawBackoff;
      },
      20_000,
    );
    const p = await get("crasher");
    expect(p.status?.phase).toBe("Running");
    const previous = await ktl(c.servers.join(","), ["logs", "crasher", "--previous"]);
    expect(previous.stdout).toBe("crash\n");
    const table = await ktl(c.servers.join(","), ["get", "pod", "crasher"]);
    expect(table.stdout).toMatch(
      /^crasher\s+0\/1\s+(CrashLoopBackOff|Error|Completed|Running)\s+[3-9]\d* \(\d+s ago\)\s+\d+s$/m,
    );
    expect(p.status!.containerStatuses[0]!.lastState?.terminated?.exitCode).toBe(1);
    const events = (
      await c.client
        .resource<Event>(kind("Event") as never)
        .list({ namespace: "default", fieldSelector: "involvedObject.name=crasher,reason=BackOff" })
    ).items;
    expect(events[0]?.message).toMatch(/^Back-off restarting failed container main in pod crasher_default\(/);
  });

  it("stops a deleted pod gracefully and removes it", async () => {
    await pods().create(
      pod("sleeper", ["sleep", "1000"], "Always", {
        env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
      }),
    );
    await waitFor("sleeper Running", async () => (await get("sleeper")).status?.phase === "Running", 30_000);
    const out = await ktl(c.servers.join(","), [
      "exec",
      "sleeper",
      "--",
      "sh",
      "-c",
      "echo in $POD_NAME; exit 4",
    ]);
    expect(out.stdout).toBe("in sleeper\n");
    expect(out.code).toBe(4);
    expect(out.stderr).toContain("command terminated with exit code 4");
    await pods().delete("sleeper", { namespace: "default" });
    await waitFor(
      "sleeper gone",
      async () =>
        (await get("sleeper").catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)))) === undefined,
      30_000,
    );
  });

  it("gates readiness on probes and restarts a container whose liveness probe fails", async () => {
    const server =
      "require('http').createServer((q, r) => r.end('ok')).listen(8080, process.env.TSKUBE_POD_IP)";
    await pods().create(
      pod("web", [process.execPath, "-e", server], "Always", {
        ports: [{ name: "http", containerPort: 8080 }],
        readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 1 },
      }),
    );
    await pods().create(
      pod("closed", ["sleep", "1000"], "Always", {
        readinessProbe: { tcpSocket: { port: "9" }, periodSeconds: 1, failureThreshold: 1 },
      }),
    );
    await pods().create(
      pod("unhealthy", ["sleep", "1000"], "Always", {
        livenessProbe: { exec: { command: ["sh", "-c", "exit 1"] }, periodSeconds: 1, failureThreshold: 2 },
      }),
    );
    await waitFor(
      "web Ready",
      async () => (await get("web")).status?.conditions.find((x) => x.type === "Ready")?.status === "True",
      30_000,
    );
    expect((await get("web")).status!.containerStatuses[0]!.ready).toBe(true);
    // ktl port-forward carries a local connection to the pod's port through apiserver and kubelet.
    const fwd = spawn(
      process.execPath,
      ["--import", "tsx", join(REPO_ROOT, "apps/ktl/src/main.ts"), "port-forward", "web", "0:8080"],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, TSKUBE_SERVER: c.servers.join(",") },
      },
    );
    try {
      const localPort = await new Promise<number>((resolve, reject) => {
        let out = "";
        fwd.stdout.on("data", (d) => {
          out += d;
          const m = /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        fwd.once("exit", (code) => reject(new Error(`port-forward exited with ${code}`)));
      });
      const body = await (await fetch(`http://127.0.0.1:${localPort}/`)).text();
      expect(body).toBe("ok");
    } finally {
      fwd.kill("SIGINT");
    }
    await waitFor("closed Running", async () => (await get("closed")).status?.phase === "Running", 30_000);
    await new Promise((r) => setTimeout(r, 2500));
    const closed = await get("closed");
    expect(closed.status!.containerStatuses[0]!.ready).toBe(false);
    expect(closed.status?.conditions.find((x) => x.type === "Ready")?.status).toBe("False");
    await waitFor(
      "unhealthy restarted",
      async () => ((await get("unhealthy")).status?.containerStatuses[0]?.restartCount ?? 0) >= 1,
      30_000,
    );
    const events = (
      await c.client
        .resource<Event>(kind("Event") as never)
        .list({ namespace: "default", fieldSelector: "involvedObject.name=unhealthy" })
    ).items;
    expect(
      events.some((e) => e.reason === "Unhealthy" && e.message.startsWith("Liveness probe failed")),
    ).toBe(true);
    expect(
      events.some(
        (e) =>
          e.reason === "Killing" && e.message === "Container main failed liveness probe, will be restarted",
      ),
    ).toBe(true);
    for (const n of ["web", "closed", "unhealthy"])
      await pods().delete(n, { namespace: "default", gracePeriodSeconds: 0 });
  });

  it("restarts a container killed from outside with kill -9", async () => {
    await pods().create(pod("victim", ["sleep", "1000"], "Always"));
    await waitFor(
      "victim running",
      async () => (await get("victim")).status?.containerStatuses[0]?.state?.running !== undefined,
      30_000,
    );
    const id = (await get("victim")).status!.containerStatuses[0]!.containerId.replace("process://", "");
    const meta = JSON.parse(readFileSync(join(rootDir, "node-a", "containers", id, "meta.json"), "utf8")) as {
      pid: number;
    };
    process.kill(-meta.pid, "SIGKILL");
    await waitFor(
      "victim restarted",
      async () => {
        const cs = (await get("victim")).status?.containerStatuses[0];
        return (cs?.restartCount ?? 0) >= 1 && cs?.state?.running !== undefined;
      },
      30_000,
    );
    const cs = (await get("victim")).status!.containerStatuses[0]!;
    expect(cs.lastState?.terminated?.exitCode).toBe(137);
    const started = (
      await c.client
        .resource<Event>(kind("Event") as never)
        .list({ namespace: "default", fieldSelector: "involvedObject.name=victim,reason=Started" })
    ).items;
    expect(started[0]?.count).toBeGreaterThanOrEqual(2);
    await pods().delete("victim", { namespace: "default", gracePeriodSeconds: 0 });
  });

  it("deletes with SIGTERM first and SIGKILL only after the grace period", async () => {
    await pods().create(pod("polite", ["sleep", "1000"], "Always"));
    await pods().create(
      Pod.fromPartial({
        metadata: { name: "stubborn", namespace: "default" },
        spec: {
          terminationGracePeriodSeconds: 3,
          containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "trap '' TERM; sleep 1000"] }],
        },
      }),
    );
    for (const n of ["polite", "stubborn"]) {
      await waitFor(
        `${n} running`,
        async () => (await get(n)).status?.containerStatuses[0]?.state?.running !== undefined,
        30_000,
      );
    }
    const gone = async (n: string) =>
      (await get(n).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)))) === undefined;
    const timed = async (n: string) => {
      const t0 = Date.now();
      await pods().delete(n, { namespace: "default" });
      await waitFor(`${n} gone`, () => gone(n), 30_000);
      return Date.now() - t0;
    };
    // sleep dies on SIGTERM at once; a process ignoring SIGTERM lasts the whole grace period.
    expect(await timed("polite")).toBeLessThan(2500);
    expect(await timed("stubborn")).toBeGreaterThanOrEqual(3000);
  });

  it("a restarted kubelet adopts running containers and restarts nothing", async () => {
    await pods().create(pod("steady", ["sleep", "1000"], "Always"));
    await waitFor(
      "steady Running",
      async () => (await get("steady")).status?.containerStatuses[0]?.state?.running !== undefined,
      30_000,
    );
    const before = (await get("steady")).status!.containerStatuses[0]!;
    await kubelet.kill();
    kubelet = await startComponent("kubelet", kubeletArgs());
    await new Promise((r) => setTimeout(r, 3000));
    const after = (await get("steady")).status!.containerStatuses[0]!;
    expect(after.containerId).toBe(before.containerId);
    expect(after.restartCount).toBe(0);
    expect(after.state?.running?.startedAt).toBe(before.state?.running?.startedAt);
    expect(readdirSync(join(rootDir, "node-a", "containers")).length).toBeGreaterThan(0);
    await pods().delete("steady", { namespace: "default", gracePeriodSeconds: 1 });
  });
});
