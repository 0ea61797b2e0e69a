import type { Experiment } from "@tskube/api";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import type { Context } from "../context.js";
import { defaultWaitMs, experimentFromFlags, kebabAction, parseAction, registerChaos } from "./chaos.js";

const flags = { wait: false };

describe("ktl chaos run ACTION", () => {
  it("takes the action in kebab or Pascal case", () => {
    expect(parseAction("node-kill")).toBe("NodeKill");
    expect(parseAction("NodeKill")).toBe("NodeKill");
    expect(parseAction("controller-manager-leader-kill")).toBe("ControllerManagerLeaderKill");
    expect(kebabAction("EtcdLeaderKill")).toBe("etcd-leader-kill");
    expect(() => parseAction("explode")).toThrow(
      'unknown chaos action "explode": supported actions are pod-kill, kubelet-kill, node-kill, scheduler-leader-kill, controller-manager-leader-kill, apiserver-kill, etcd-member-kill, etcd-leader-kill, node-pause, random-kill',
    );
  });

  it("leaves unset flags unset so the API defaults them, and names it after the action", () => {
    const e = experimentFromFlags("pod-kill", flags, "default");
    expect(e.metadata).toMatchObject({ name: "", generateName: "pod-kill-", namespace: "default" });
    expect(e.spec).toMatchObject({ action: "PodKill", target: "", actions: [] });
    expect(e.spec?.durationSeconds).toBeUndefined();
    expect(e.spec?.requestsPerSecond).toBeUndefined();
    expect(e.spec?.workload).toBeUndefined();
  });

  it("turns durations into seconds and lists into actions", () => {
    const e = experimentFromFlags(
      "random-kill",
      {
        ...flags,
        name: "soak",
        interval: "10s",
        total: "2m",
        down: "15",
        rate: "50",
        actions: "pod-kill, KubeletKill",
      },
      "chaos",
    );
    expect(e.metadata).toMatchObject({ name: "soak", namespace: "chaos" });
    expect(e.spec).toMatchObject({
      action: "RandomKill",
      intervalSeconds: 10,
      totalSeconds: 120,
      downSeconds: 15,
      requestsPerSecond: 50,
      actions: ["PodKill", "KubeletKill"],
    });
  });

  it("names the workload from --deployment and --service together", () => {
    const e = experimentFromFlags(
      "apiserver-kill",
      { ...flags, deployment: "web", service: "web-svc" },
      "default",
    );
    expect(e.spec?.workload).toMatchObject({ namespace: "default", deployment: "web", service: "web-svc" });
    expect(() => experimentFromFlags("pod-kill", { ...flags, deployment: "web" }, "default")).toThrow(
      "--deployment and --service name the workload together; give both or neither",
    );
  });

  it("refuses durations that are not whole seconds and rates that are not integers", () => {
    expect(() => experimentFromFlags("pod-kill", { ...flags, duration: "1500ms" }, "default")).toThrow(
      'invalid argument "1500ms" for "--duration" flag: must be a whole number of seconds',
    );
    expect(() => experimentFromFlags("pod-kill", { ...flags, duration: "soon" }, "default")).toThrow(
      'invalid argument "soon" for "--duration" flag: not a duration such as 30s or 2m',
    );
    expect(() => experimentFromFlags("pod-kill", { ...flags, rate: "2.5" }, "default")).toThrow(
      'invalid argument "2.5" for "--rate" flag: not an integer',
    );
  });

  it("waits by default for the experiment's own length plus slack", () => {
    const e = experimentFromFlags(
      "random-kill",
      { ...flags, duration: "30s", down: "20s", total: "30m" },
      "default",
    );
    expect(defaultWaitMs(e)).toBe((30 + 20 + 1800) * 1000 + 10 * 60_000);
  });

  it("parses the command line into the Experiment it creates", async () => {
    const created: Experiment[] = [];
    const out: string[] = [];
    const ctx = {
      namespace: "default",
      out: (t: string) => out.push(t),
      client: () => ({
        resource: () => ({
          create: async (e: Experiment) => {
            created.push(e);
            return { ...e, metadata: { ...e.metadata!, name: "node-kill-abcde" } };
          },
        }),
      }),
    } as unknown as Context;
    const program = new Command().exitOverride();
    registerChaos(program, (fn) => fn(ctx));
    await program.parseAsync(
      ["chaos", "run", "node-kill", "--target", "node-2", "--duration", "1m", "--down", "20s"],
      {
        from: "user",
      },
    );
    expect(created).toHaveLength(1);
    expect(created[0]!.spec).toMatchObject({
      action: "NodeKill",
      target: "node-2",
      durationSeconds: 60,
      downSeconds: 20,
    });
    expect(out.join("")).toBe("experiment.chaos.tskube.io/node-kill-abcde created\n");
  });
});
