import { execFileSync } from "node:child_process";
import { ConfigMap, type Event, KINDS, Pod } from "@tskube/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import { ktlOnTerminal, openExec } from "./exec-session.js";
import { type ComponentHandle, freePort, ktl, startComponent, waitFor } from "./harness.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;

/**
 * The image `pnpm images:offline` builds (node + busybox); it stands in for busybox here. Its tag is
 * :latest, which defaults imagePullPolicy to Always, and there is no registry: pods ask IfNotPresent.
 */
const IMAGE = process.env.TSKUBE_TEST_IMAGE ?? "tskube/node-base:latest";
const PULL = "IfNotPresent";
/** An image no registry has: with no registry reachable the pull fails at once. */
const MISSING = `tskube-test/missing-${process.pid}:1.0`;

function dockerUsable(): boolean {
  try {
    execFileSync("docker", ["image", "inspect", IMAGE], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// Runs wherever Docker and the offline image exist (CI builds both before the tests).
describe.skipIf(!dockerUsable())("kubelet with the docker runtime", () => {
  const c = useCluster();
  let kubelet: ComponentHandle;
  let scheduler: ComponentHandle;
  const node = `docker-node-${process.pid}`;

  beforeAll(async () => {
    scheduler = await startComponent("scheduler", [
      "--server",
      c.servers.join(","),
      "--leader-elect",
      "false",
    ]);
    kubelet = await startComponent("kubelet", [
      "--server",
      c.servers.join(","),
      "--node-name",
      node,
      "--runtime",
      "docker",
      "--docker-network",
      "bridge",
      "--sandbox-image",
      IMAGE,
      "--port",
      String(await freePort()),
      "--pleg-relist-period",
      "300ms",
      "--image-pull-backoff-initial",
      "1s",
      "--image-pull-backoff-max",
      "4s",
    ]);
  });
  afterAll(async () => {
    const pods = c.client.resource<Pod>(kind("Pod") as never);
    for (const p of (await pods.list({ namespace: "default" })).items) {
      await pods
        .delete(p.metadata!.name, { namespace: "default", gracePeriodSeconds: 0 })
        .catch(() => undefined);
    }
    await waitFor(
      "containers removed",
      async () => {
        const out = execFileSync("docker", ["ps", "-aq", "--filter", `label=io.tskube.node=${node}`])
          .toString()
          .trim();
        return out === "";
      },
      60_000,
    ).catch(() => undefined);
    await kubelet?.stop();
    await scheduler?.stop();
  });

  const pods = () => c.client.resource<Pod>(kind("Pod") as never);
  const get = (name: string) => pods().get(name, { namespace: "default" });

  it("runs the classic first pod in a container and ktl logs prints its output", async () => {
    await pods().create(
      Pod.fromPartial({
        metadata: { name: "hello", namespace: "default" },
        spec: {
          restartPolicy: "Never",
          containers: [
            { name: "hello", image: IMAGE, imagePullPolicy: PULL, command: ["echo"], args: ["Hello World!"] },
          ],
        },
      }),
    );
    await waitFor("hello Succeeded", async () => (await get("hello")).status?.phase === "Succeeded", 60_000);
    const p = await get("hello");
    expect(p.status!.containerStatuses[0]!.containerId).toMatch(/^docker:\/\/[0-9a-f]{64}$/);
    expect(p.status?.podIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const logs = await ktl(c.servers.join(","), ["logs", "hello"]);
    expect(logs.stdout).toBe("Hello World!\n");
  });

  it("shares an emptyDir between a pod's containers and mounts a ConfigMap", async () => {
    await c.client.resource<ConfigMap>(kind("ConfigMap") as never).create(
      ConfigMap.fromPartial({
        metadata: { name: "settings", namespace: "default" },
        data: { greeting: "hello from a configmap\n" },
      }),
    );
    await pods().create(
      Pod.fromPartial({
        metadata: { name: "volumes", namespace: "default" },
        spec: {
          volumes: [
            { name: "shared", emptyDir: {} },
            { name: "config", configMap: { name: "settings" } },
          ],
          containers: [
            {
              name: "writer",
              image: IMAGE,
              imagePullPolicy: PULL,
              command: ["sh", "-c", "cat /etc/settings/greeting > /data/message; sleep 1000"],
              volumeMounts: [
                { name: "shared", mountPath: "/data" },
                { name: "config", mountPath: "/etc/settings", readOnly: true },
              ],
            },
            {
              name: "reader",
              image: IMAGE,
              imagePullPolicy: PULL,
              command: [
                "sh",
                "-c",
                "while [ ! -s /in/message ]; do sleep 0.2; done; cat /in/message; sleep 1000",
              ],
              volumeMounts: [{ name: "shared", mountPath: "/in" }],
            },
          ],
        },
      }),
    );
    await waitFor(
      "reader saw the writer's file",
      // Docker's log driver passes whole lines, hence the newline in the data.
      async () =>
        (await ktl(c.servers.join(","), ["logs", "volumes", "-c", "reader"])).stdout ===
        "hello from a configmap\n",
      60_000,
    );
  });

  it("gives a pod's containers one network namespace (shared localhost) and enforces memory limits", async () => {
    const server =
      "require('http').createServer((q, r) => r.end('from the other container')).listen(8080, '127.0.0.1')";
    const client =
      "const go = () => fetch('http://127.0.0.1:8080').then((r) => r.text()).then((t) => { console.log(t); setInterval(() => {}, 1e9); }, () => setTimeout(go, 200)); go();";
    await pods().create(
      Pod.fromPartial({
        metadata: { name: "pair", namespace: "default" },
        spec: {
          containers: [
            {
              name: "server",
              image: IMAGE,
              imagePullPolicy: PULL,
              command: ["node", "-e", server],
              resources: { limits: { memory: "128Mi", cpu: "500m" } },
            },
            { name: "client", image: IMAGE, imagePullPolicy: PULL, command: ["node", "-e", client] },
          ],
        },
      }),
    );
    await waitFor(
      "client reached the server over localhost",
      async () =>
        (await ktl(c.servers.join(","), ["logs", "pair", "-c", "client"])).stdout ===
        "from the other container\n",
      60_000,
    );
    const p = await get("pair");
    const id = p
      .status!.containerStatuses.find((s) => s.name === "server")!
      .containerId.replace("docker://", "");
    const hostConfig = JSON.parse(
      execFileSync("docker", ["inspect", "--format", "{{json .HostConfig}}", id]).toString(),
    );
    expect(hostConfig.Memory).toBe(128 * 1024 * 1024);
    expect(hostConfig.NanoCpus).toBe(500_000_000);
    expect(hostConfig.NetworkMode).toMatch(/^container:[0-9a-f]{64}$/);
    const exec = await ktl(c.servers.join(","), [
      "exec",
      "pair",
      "-c",
      "server",
      "--",
      "sh",
      "-c",
      "echo $HOSTNAME",
    ]);
    expect(exec.code).toBe(0);
    expect(exec.stdout.trim()).toBe("pair");
  });

  const eventsOf = async (name: string) =>
    (
      await c.client
        .resource<Event>(kind("Event") as never)
        .list({ namespace: "default", fieldSelector: `involvedObject.name=${name}` })
    ).items;
  const docker = (...args: string[]) => execFileSync("docker", args).toString().trim();
  const sleeper = (name: string, image: string, imagePullPolicy: string, restartPolicy = "Always") =>
    Pod.fromPartial({
      metadata: { name, namespace: "default" },
      spec: {
        restartPolicy,
        terminationGracePeriodSeconds: 1,
        containers: [{ name: "main", image, imagePullPolicy, command: ["sleep", "100000"] }],
      },
    });

  it('a local image with IfNotPresent is not pulled: "already present on machine"', async () => {
    const events = await eventsOf("hello");
    expect(events.map((e) => `${e.reason} ${e.message}`)).toContain(
      `Pulled Container image "${IMAGE}" already present on machine`,
    );
    expect(events.map((e) => e.reason)).not.toContain("Pulling");
  });

  it("an image that cannot be pulled is ErrImagePull, then ImagePullBackOff, with Kubernetes' events", async () => {
    const created = await pods().create(sleeper("unpullable", MISSING, "IfNotPresent"));
    // A watch sees every status the kubelet writes (ErrImagePull lasts only until the next sync).
    const reasons: string[] = [];
    let message = "";
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 60_000);
    try {
      for await (const ev of pods().watch({
        namespace: "default",
        fieldSelector: "metadata.name=unpullable",
        resourceVersion: created.metadata!.resourceVersion,
        signal: ac.signal,
      })) {
        const w = ev.object?.status?.containerStatuses[0]?.state?.waiting;
        if (w?.reason && reasons.at(-1) !== w.reason) reasons.push(w.reason);
        if (w?.reason === "ErrImagePull") message = w.message;
        if (reasons.includes("ErrImagePull") && reasons.includes("ImagePullBackOff")) break;
      }
    } finally {
      clearTimeout(timer);
    }
    expect(reasons.filter((r) => r !== "ContainerCreating")).toEqual(["ErrImagePull", "ImagePullBackOff"]);
    // The engine's own words: no registry answers here.
    expect(message).toMatch(/^Error response from daemon: /);
    const p = await get("unpullable");
    expect(p.status?.phase).toBe("Pending");
    expect(p.status?.containerStatuses[0]?.ready).toBe(false);
    const table = await ktl(c.servers.join(","), ["get", "pod", "unpullable"]);
    expect(table.stdout).toMatch(/^unpullable\s+0\/1\s+(ErrImagePull|ImagePullBackOff)\s+0\s/m);
    await waitFor(
      "a second pull after the back-off",
      async () => (await eventsOf("unpullable")).some((e) => e.reason === "Pulling" && e.count >= 2),
      30_000,
    );
    const events = (await eventsOf("unpullable")).map((e) => `${e.type} ${e.reason} ${e.message}`);
    expect(events).toEqual(
      expect.arrayContaining([
        `Normal Pulling Pulling image "${MISSING}"`,
        `Warning Failed Failed to pull image "${MISSING}": ${message}`,
        "Warning Failed Error: ErrImagePull",
        `Normal BackOff Back-off pulling image "${MISSING}"`,
        "Warning Failed Error: ImagePullBackOff",
      ]),
    );
    await pods().delete("unpullable", { namespace: "default", gracePeriodSeconds: 0 });
  });

  it("a missing image with imagePullPolicy Never is ErrImageNeverPull and is never pulled", async () => {
    await pods().create(sleeper("neverpull", MISSING, "Never"));
    await waitFor(
      "ErrImageNeverPull",
      async () =>
        (await get("neverpull")).status?.containerStatuses[0]?.state?.waiting?.reason === "ErrImageNeverPull",
      60_000,
    );
    const w = (await get("neverpull")).status!.containerStatuses[0]!.state!.waiting!;
    expect(w.message).toBe(`Container image "${MISSING}" is not present with pull policy of Never`);
    const events = await eventsOf("neverpull");
    expect(events.map((e) => `${e.type} ${e.reason} ${e.message}`)).toEqual(
      expect.arrayContaining([
        `Warning ErrImageNeverPull Container image "${MISSING}" is not present with pull policy of Never`,
        "Warning Failed Error: ErrImageNeverPull",
      ]),
    );
    expect(events.map((e) => e.reason)).not.toContain("Pulling");
    const table = await ktl(c.servers.join(","), ["get", "pod", "neverpull"]);
    expect(table.stdout).toMatch(/^neverpull\s+0\/1\s+ErrImageNeverPull\s/m);
    await pods().delete("neverpull", { namespace: "default", gracePeriodSeconds: 0 });
  });

  it("restarts a container stopped with `docker kill` (restartPolicy Always): exit 137 in lastState", async () => {
    await pods().create(sleeper("killed", IMAGE, PULL));
    await waitFor(
      "killed Running",
      async () => (await get("killed")).status?.containerStatuses[0]?.state?.running !== undefined,
      60_000,
    );
    const first = (await get("killed")).status!.containerStatuses[0]!.containerId.replace("docker://", "");
    docker("kill", first);
    await waitFor(
      "a new container after docker kill",
      async () => {
        const s = (await get("killed")).status?.containerStatuses[0];
        return !!s?.state?.running && s.restartCount === 1;
      },
      60_000,
    );
    const s = (await get("killed")).status!.containerStatuses[0]!;
    expect(s.containerId).not.toBe(`docker://${first}`);
    expect(s.lastState?.terminated).toMatchObject({
      exitCode: 137,
      reason: "Error",
      containerId: `docker://${first}`,
    });
    // Kubernetes tells a restart by the same events again: Created and Started, counted twice.
    const events = await eventsOf("killed");
    for (const reason of ["Created", "Started"])
      expect(events.find((e) => e.reason === reason)?.count, reason).toBe(2);
    const table = await ktl(c.servers.join(","), ["get", "pod", "killed"]);
    expect(table.stdout).toMatch(/^killed\s+1\/1\s+Running\s+1 \(\S+ ago\)\s/m);
  });

  it("recreates a pod whose sandbox was killed with `docker kill` (SandboxChanged) and restarts its containers", async () => {
    const p = await get("killed");
    const uid = p.metadata!.uid;
    const sandboxOf = () =>
      docker(
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        `label=io.tskube.pod.uid=${uid}`,
        "--filter",
        "label=io.tskube.kind=sandbox",
      );
    const oldSandbox = sandboxOf();
    expect(oldSandbox).toMatch(/^[0-9a-f]{64}$/);
    const before = p.status!.containerStatuses[0]!;
    docker("kill", oldSandbox);
    await waitFor(
      "containers running again in a new sandbox",
      async () => {
        const s = (await get("killed")).status?.containerStatuses[0];
        return !!s?.state?.running && s.restartCount === before.restartCount + 1;
      },
      60_000,
    );
    const newSandbox = sandboxOf();
    expect(newSandbox).toMatch(/^[0-9a-f]{64}$/);
    expect(newSandbox).not.toBe(oldSandbox);
    const now = (await get("killed")).status!;
    const id = now.containerStatuses[0]!.containerId.replace("docker://", "");
    expect(docker("inspect", "--format", "{{.HostConfig.NetworkMode}}", id)).toBe(`container:${newSandbox}`);
    expect(now.containerStatuses[0]!.lastState?.terminated?.containerId).toBe(before.containerId);
    expect(now.podIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const events = (await eventsOf("killed")).map((e) => `${e.type} ${e.reason} ${e.message}`);
    expect(events).toEqual(
      expect.arrayContaining([
        "Normal SandboxChanged Pod sandbox changed, it will be killed and re-created.",
        "Normal Killing Stopping container main",
      ]),
    );
  });

  it("ktl exec -i streams stdin to the command (cat, and sh's read)", async () => {
    const server = c.servers.join(",");
    const cat = await ktl(server, ["exec", "-i", "killed", "--", "cat"], "hello\nfrom stdin\n");
    expect(cat).toMatchObject({ code: 0, stdout: "hello\nfrom stdin\n" });
    const read = await ktl(
      server,
      ["exec", "-i", "killed", "--", "sh", "-c", "read x; echo got $x"],
      "abc\n",
    );
    expect(read).toMatchObject({ code: 0, stdout: "got abc\n" });
    const plain = await ktl(server, ["exec", "killed", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(plain.code).toBe(3);
    expect(plain.stdout).toBe("out\n");
    expect(plain.stderr).toBe("err\ncommand terminated with exit code 3\n");
  });

  it("exec with a TTY: a /dev/pts terminal that follows resizes, and the exit code", async () => {
    const session = openExec(c.client, {
      name: "killed",
      command: ["sh"],
      tty: true,
      width: 100,
      height: 30,
    });
    await session.typeUntil("tty\n", "/dev/pts/");
    session.resize(120, 40);
    await session.typeUntil("stty size\n", "40 120");
    session.send("exit 4\n");
    expect(await session.exit).toBe(4);
    session.end();
  });

  it("ktl exec -it on a terminal runs the command on a TTY and exits with its code", async () => {
    const server = c.servers.join(",");
    const tty = await ktlOnTerminal(server, ["exec", "-it", "killed", "--", "tty"]);
    expect(tty.code).toBe(0);
    expect(tty.output).toMatch(/\/dev\/pts\/\d+/);
    const sh = await ktlOnTerminal(
      server,
      ["exec", "-it", "killed", "--", "sh"],
      [
        { after: /[#$] $/, send: "echo typed-$((6*7))\n" },
        { after: /typed-42\r*\n[\s\S]*[#$] $/, send: "exit 5\n" },
      ],
    );
    expect(sh.output).toContain("typed-42");
    expect(sh.code).toBe(5);
    const piped = await ktl(server, ["exec", "-it", "killed", "--", "sh", "-c", "tty; true"], "");
    expect(piped.stderr).toBe("Unable to use a TTY - input is not a terminal or the right kind of file\n");
    expect(piped.stdout).toBe("not a tty\n");
  });

  it("a sandbox image that cannot be pulled is FailedCreatePodSandBox with the engine's message", async () => {
    const other = `${node}-nosandbox`;
    const k = await startComponent("kubelet", [
      "--server",
      c.servers.join(","),
      "--node-name",
      other,
      "--runtime",
      "docker",
      "--sandbox-image",
      MISSING,
      "--port",
      String(await freePort()),
    ]);
    try {
      const p = sleeper("nosandbox", IMAGE, PULL);
      p.spec!.nodeName = other;
      await pods().create(p);
      await waitFor(
        "FailedCreatePodSandBox",
        async () => (await eventsOf("nosandbox")).some((e) => e.reason === "FailedCreatePodSandBox"),
        60_000,
      );
      const ev = (await eventsOf("nosandbox")).find((e) => e.reason === "FailedCreatePodSandBox")!;
      expect(ev.type).toBe("Warning");
      expect(ev.message).toMatch(/^Failed to create pod sandbox: Error response from daemon: /);
      await pods().delete("nosandbox", { namespace: "default", gracePeriodSeconds: 0 });
    } finally {
      await k.stop();
    }
  });
});
