import { Pod } from "@tskube/api";
import type { Client } from "@tskube/client";
import type { EventRecorder } from "@tskube/controller";
import { FakeClient } from "@tskube/controller/testing";
import { silentLogger } from "@tskube/log";
import { describe, expect, it } from "vitest";
import { ContainerKiller } from "./container-kill.js";
import { PodTerminator, podGracePeriodSeconds } from "./pod-terminate.js";
import { FakeRuntime } from "./runtime/fake.js";

const recorder = { event: async () => undefined } as unknown as EventRecorder;

describe("PodTerminator", () => {
  it("the grace period: the deletion's, else the pod's, else 30 s", () => {
    const p = (meta: Record<string, unknown>, grace?: number) =>
      Pod.fromPartial({
        metadata: { name: "a", namespace: "default", ...meta },
        spec: grace === undefined ? {} : { terminationGracePeriodSeconds: grace },
      });
    expect(podGracePeriodSeconds(p({ deletionGracePeriodSeconds: 4 }, 10))).toBe(4);
    expect(podGracePeriodSeconds(p({}, 10))).toBe(10);
    expect(podGracePeriodSeconds(p({}))).toBe(30);
  });

  it("removes only this pod's sandboxes, and deletes only this incarnation of the name with grace 0", async () => {
    const runtime = new FakeRuntime("10.1.0.0");
    const client = new FakeClient();
    const terminator = new PodTerminator({
      client: client as unknown as Client,
      runtime,
      killer: new ContainerKiller({ runtime, recorder, log: silentLogger }),
    });
    const sandbox = (podUid: string) =>
      runtime.runPodSandbox({ podUid, name: podUid, namespace: "default", hostname: podUid, labels: {} });
    await sandbox("uid-1");
    await sandbox("uid-1");
    const other = await sandbox("uid-2");
    await terminator.removeSandboxes("uid-1");
    expect((await runtime.listPodSandboxes()).map((s) => s.id)).toEqual([other]);

    const pods = client.resource<Pod>("Pod");
    const current = await pods.create(Pod.fromPartial({ metadata: { name: "web", namespace: "default" } }));
    // An older pod of the same name: its final delete must not remove the new one.
    const older = Pod.fromPartial({ metadata: { name: "web", namespace: "default", uid: "uid-old" } });
    await terminator.deletePod(older);
    expect((await pods.get("web", { namespace: "default" })).metadata!.uid).toBe(current.metadata!.uid);
    await terminator.deletePod(current);
    await expect(pods.get("web", { namespace: "default" })).rejects.toThrow(/not found/);
    // Already gone: nothing to do, no error.
    await terminator.deletePod(current);
  });
});
