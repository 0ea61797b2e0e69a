import { Experiment } from "@tskube/api";
import type { Client } from "@tskube/client";
import type { Informer } from "@tskube/controller";
import { silentLogger } from "@tskube/log";
import { describe, expect, it } from "vitest";
import { ExperimentController } from "./controller.js";
import type { Runner } from "./runner.js";

const exp = (name: string, phase: string, created: string) =>
  Experiment.fromPartial({
    apiVersion: "chaos.tskube.io/v1alpha1",
    kind: "Experiment",
    metadata: { name, namespace: "default", uid: name, creationTimestamp: created, generation: 1 },
    spec: { action: "PodKill" },
    status: { phase },
  });

function fakes(items: Experiment[]) {
  const stored = new Map(items.map((e) => [e.metadata!.name, e]));
  const statusWrites: { name: string; phase: string; reason: string }[] = [];
  const client = {
    resource: () => ({
      get: async (name: string) => stored.get(name)!,
      updateStatus: async (e: Experiment) => {
        statusWrites.push({ name: e.metadata!.name, phase: e.status!.phase, reason: e.status!.reason });
        stored.set(e.metadata!.name, e);
        return e;
      },
    }),
  } as unknown as Client;
  const informer = {
    store: { list: () => [...stored.values()] },
    addEventHandler: () => undefined,
    waitForSync: async () => undefined,
  } as unknown as Informer<Experiment>;
  return { client, informer, statusWrites };
}

describe("ExperimentController", () => {
  it("marks an experiment found Running as Failed (Interrupted) and runs the Pending ones oldest first, once each", async () => {
    const { client, informer, statusWrites } = fakes([
      exp("second", "Pending", "2026-01-01T00:00:02Z"),
      exp("cut-off", "Running", "2026-01-01T00:00:00Z"),
      exp("first", "", "2026-01-01T00:00:01Z"),
      exp("done", "Succeeded", "2026-01-01T00:00:00Z"),
    ]);
    const stop = new AbortController();
    const ran: string[] = [];
    const runner = {
      run: async (e: Experiment) => {
        ran.push(e.metadata!.name);
        if (ran.length === 2) setTimeout(() => stop.abort(), 10);
        return { ...e.status!, phase: "Succeeded", verdict: "Passed", reason: "Passed" };
      },
    } as unknown as Runner;
    await new ExperimentController(client, informer, runner, silentLogger).run(stop.signal);
    expect(ran).toEqual(["first", "second"]);
    expect(statusWrites).toEqual([
      { name: "cut-off", phase: "Failed", reason: "Interrupted" },
      { name: "first", phase: "Running", reason: "" },
      { name: "first", phase: "Succeeded", reason: "Passed" },
      { name: "second", phase: "Running", reason: "" },
      { name: "second", phase: "Succeeded", reason: "Passed" },
    ]);
  });

  it("records a run that throws as Failed with its reason", async () => {
    const { client, informer, statusWrites } = fakes([exp("broken", "Pending", "2026-01-01T00:00:00Z")]);
    const stop = new AbortController();
    const runner = {
      run: async () => {
        setTimeout(() => stop.abort(), 10);
        throw Object.assign(new Error("no running kubelet to pick"), { reason: "NoTarget" });
      },
    } as unknown as Runner;
    await new ExperimentController(client, informer, runner, silentLogger).run(stop.signal);
    expect(statusWrites.at(-1)).toEqual({ name: "broken", phase: "Failed", reason: "NoTarget" });
  });
});
