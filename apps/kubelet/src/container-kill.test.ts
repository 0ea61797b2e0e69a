import { Pod } from "@tskube/api";
import type { EventRecorder } from "@tskube/controller";
import { silentLogger } from "@tskube/log";
import { describe, expect, it } from "vitest";
import { ContainerKiller } from "./container-kill.js";
import { FakeRuntime } from "./runtime/fake.js";
import { LABEL_CONTAINER_NAME, LABEL_POD_UID } from "./runtime/types.js";

class Stops extends FakeRuntime {
  stops: string[] = [];
  hooks: string[] = [];
  override async stopContainer(id: string, timeoutSeconds = 0) {
    this.stops.push(`${id} ${timeoutSeconds}`);
    await super.stopContainer(id, timeoutSeconds);
  }
  override async execSync(id = "", command: string[] = []) {
    this.hooks.push(`${id} ${command.join(" ")}`);
    return { exitCode: 0, stdout: "", stderr: "" };
  }
}

describe("ContainerKiller.killContainers", () => {
  it("stops every running container of the pod with the grace period given, after its preStop hook", async () => {
    const runtime = new Stops("10.1.0.0");
    const events: string[] = [];
    const recorder = {
      event: async (_o: unknown, _t: string, reason: string, message: string) => {
        events.push(`${reason} ${message}`);
      },
    } as unknown as EventRecorder;
    const killer = new ContainerKiller({ runtime, recorder, log: silentLogger });
    const pod = Pod.fromPartial({
      metadata: { name: "web", namespace: "default", uid: "uid-1" },
      spec: {
        containers: [
          { name: "app", image: "node", lifecycle: { preStop: { exec: { command: ["drain"] } } } },
          { name: "log", image: "node" },
          { name: "done", image: "node" },
        ],
      },
    });
    const sandbox = await runtime.runPodSandbox({
      podUid: "uid-1",
      name: "web",
      namespace: "default",
      hostname: "web",
      labels: {},
    });
    const ids: Record<string, string> = {};
    for (const name of ["app", "log", "done"]) {
      ids[name] = await runtime.createContainer(sandbox, {
        name,
        image: "node",
        command: [],
        args: [],
        env: [],
        workingDir: "",
        mounts: [],
        labels: { [LABEL_POD_UID]: "uid-1", [LABEL_CONTAINER_NAME]: name },
      });
      await runtime.startContainer(ids[name]!);
    }
    await runtime.stopContainer(ids.done!, 0);
    runtime.stops = [];
    await killer.killContainers(pod, await runtime.listContainers(), 9);
    // The exited one is left alone; the hook runs before its container's SIGTERM.
    expect(runtime.stops.sort()).toEqual([`${ids.app} 9`, `${ids.log} 9`].sort());
    expect(runtime.hooks).toEqual([`${ids.app} drain`]);
    expect(events.sort()).toEqual(["Killing Stopping container app", "Killing Stopping container log"]);
    expect((await runtime.listContainers()).every((c) => c.state === "EXITED")).toBe(true);
  });
});
