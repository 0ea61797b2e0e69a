import { Experiment, ExperimentStatus } from "@tskube/api";
import type { WatchEvent } from "@tskube/client";
import { describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";

/**
 * The Experiment kind through the real apiserver and etcd: messages plus a strategy are all a kind
 * needs, so create, get, list, watch and updateStatus work without kind-specific server code.
 */
describe("Experiment API", () => {
  const c = useCluster();
  const exps = () => c.client.resource<Experiment>("experiments");

  it("creates with defaults, drops a client-sent status and rejects bad specs with field paths", async () => {
    const created = await exps().create(
      Experiment.fromPartial({
        metadata: { name: "node-kill", namespace: "default" },
        spec: { action: "NodeKill", target: "node-2" },
        status: { phase: "Succeeded" },
      }),
    );
    expect(created.apiVersion).toBe("chaos.tskube.io/v1alpha1");
    expect(created.kind).toBe("Experiment");
    expect(created.metadata?.generation).toBe(1);
    expect(created.spec).toMatchObject({ requestsPerSecond: 20, durationSeconds: 45, downSeconds: 20 });
    expect(created.status).toBeUndefined();

    await expect(
      exps().create(
        Experiment.fromPartial({ metadata: { name: "bad" }, spec: { action: "Nap", requestsPerSecond: 0 } }),
      ),
    ).rejects.toThrow(
      /spec\.action: Unsupported value: "Nap": supported values: "PodKill".*spec\.requestsPerSecond: Invalid value: 0: must be between 1 and 1000, inclusive/s,
    );
    await expect(
      exps().update(Experiment.fromPartial({ ...created, spec: { ...created.spec, target: "node-3" } })),
    ).rejects.toThrow(/spec: Forbidden: experiment spec is immutable/);
  });

  it("gets, lists by field selector and watches status written through UpdateStatus", async () => {
    await exps().create(
      Experiment.fromPartial({ metadata: { name: "pod-kill" }, spec: { action: "PodKill" } }),
    );
    const listed = await exps().list({ namespace: "default", fieldSelector: "spec.action=PodKill" });
    expect(listed.items.map((e) => e.metadata?.name)).toEqual(["pod-kill"]);

    const ac = new AbortController();
    const seen: WatchEvent<Experiment>[] = [];
    const watching = (async () => {
      for await (const ev of exps().watch({
        namespace: "default",
        resourceVersion: listed.resourceVersion,
        fieldSelector: "metadata.name=pod-kill",
        signal: ac.signal,
      })) {
        seen.push(ev);
        if (ev.object.status?.phase === "Succeeded") ac.abort();
      }
    })();

    const cur = await exps().get("pod-kill", { namespace: "default" });
    const running = await exps().updateStatus(
      Experiment.fromPartial({
        ...cur,
        status: ExperimentStatus.fromPartial({ phase: "Running", startTime: "2026-12-01T11:00:00Z" }),
      }),
    );
    expect(running.status?.phase).toBe("Running");
    expect(running.metadata?.generation).toBe(1);
    const done = await exps().updateStatus(
      Experiment.fromPartial({
        ...running,
        status: ExperimentStatus.fromPartial({
          ...running.status,
          phase: "Succeeded",
          verdict: "Passed",
          figures: { recoverySeconds: 1.25, target: 2 },
          samples: [{ offsetSeconds: 0, readyReplicas: 3, requestsOk: 20 }],
        }),
      }),
    );
    await watching;
    expect(seen.map((e) => [e.type, e.object.status?.phase])).toEqual([
      ["MODIFIED", "Running"],
      ["MODIFIED", "Succeeded"],
    ]);
    expect((await exps().get("pod-kill", { namespace: "default" })).status).toMatchObject({
      verdict: "Passed",
      figures: { recoverySeconds: 1.25, target: 2 },
    });
    const byPhase = await exps().list({ namespace: "default", fieldSelector: "status.phase=Succeeded" });
    expect(byPhase.items.map((e) => e.metadata?.name)).toEqual(["pod-kill"]);

    await expect(
      exps().updateStatus(Experiment.fromPartial({ ...done, status: { ...done.status, phase: "Running" } })),
    ).rejects.toThrow(/status\.phase: Forbidden: may not change once it is Succeeded/);
  });
});
