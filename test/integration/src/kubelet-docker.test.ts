import { execFileSync } from "node:child_process";
import { ConfigMap, KINDS, Pod } from "@tskube/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import { type ComponentHandle, freePort, ktl, startComponent, waitFor } from "./harness.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;

/** The image `pnpm images:offline` builds (node + busybox); it stands in for busybox here. */
const IMAGE = process.env.TSKUBE_TEST_IMAGE ?? "tskube/node-base:latest";

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
          containers: [{ name: "hello", image: IMAGE, command: ["echo"], args: ["Hello World!"] }],
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
              command: ["sh", "-c", "cat /etc/settings/greeting > /data/message; sleep 1000"],
              volumeMounts: [
                { name: "shared", mountPath: "/data" },
                { name: "config", mountPath: "/etc/settings", readOnly: true },
              ],
            },
            {
              name: "reader",
              image: IMAGE,
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
              command: ["node", "-e", server],
              resources: { limits: { memory: "128Mi", cpu: "500m" } },
            },
            { name: "client", image: IMAGE, command: ["node", "-e", client] },
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
});
