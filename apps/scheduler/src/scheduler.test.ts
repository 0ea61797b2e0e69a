import type { Node, Pod } from "@tskube/api";
import type { Client } from "@tskube/client";
import { EventRecorder } from "@tskube/controller";
import { FakeClient } from "@tskube/controller/testing";
import { silentLogger } from "@tskube/log";
import { afterEach, describe, expect, it, vi } from "vitest";
import { node, pod } from "./framework/testing.js";
import { DEFAULT_FILTERS, DEFAULT_SCORES } from "./plugins/index.js";
import { Scheduler } from "./scheduler.js";

describe("Scheduler", () => {
  const stops: AbortController[] = [];
  afterEach(() => {
    for (const s of stops.splice(0)) s.abort();
  });

  function start(fake: FakeClient): Promise<void> {
    const client = fake as unknown as Client;
    const stop = new AbortController();
    stops.push(stop);
    return new Scheduler({
      client,
      schedulerName: "default-scheduler",
      recorder: new EventRecorder({
        events: client.resource("events"),
        component: "test",
        log: silentLogger,
      }),
      log: silentLogger,
      filters: DEFAULT_FILTERS,
      scores: DEFAULT_SCORES,
      initialBackoffMs: 10,
      maxBackoffMs: 50,
    }).run(stop.signal);
  }

  const placement = async (fake: FakeClient) =>
    (await fake.resource<Pod>("Pod").list({ namespace: "default" })).items.map(
      (p) => [p.metadata!.name, p.spec!.nodeName] as const,
    );

  it("stops when it is told to while its caches are still syncing", async () => {
    const running = start(new FakeClient());
    // Before the informers have listed: the signal fires while run() waits for them.
    stops[0]!.abort();
    await running;
  });

  it("counts pods it has placed before their bindings come back, and frees a node when its pod goes", async () => {
    const fake = new FakeClient();
    const nodes = fake.resource<Node>("Node");
    await nodes.create(node("n1", { cpu: "1" }));
    await nodes.create(node("n2", { cpu: "1" }));
    const pods = fake.resource<Pod>("Pod");
    for (const name of ["a", "b", "c"]) await pods.create(pod(name, { cpu: "600m" }));
    // Binding writes wait until released, so only the assumed pods in the cache can stop the
    // third pod from being placed on a node that is already full.
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let bindings = 0;
    const write = pods.update.bind(pods);
    pods.update = async (obj: Pod) => {
      if (obj.spec?.nodeName) {
        bindings++;
        await gate;
      }
      return write(obj);
    };
    void start(fake);
    const failed = async () =>
      (await fake.resource("Event").list({ namespace: "default" })).items.filter(
        (e) => (e as unknown as { reason: string }).reason === "FailedScheduling",
      ).length;
    await vi.waitFor(async () => {
      expect(bindings + (await failed())).toBeGreaterThanOrEqual(3);
    });
    expect(bindings).toBe(2);
    release();
    await vi.waitFor(async () => {
      expect((await placement(fake)).filter(([, n]) => n).length).toBe(2);
    });
    const placed = await placement(fake);
    expect(
      placed
        .filter(([, n]) => n)
        .map(([, n]) => n)
        .sort(),
    ).toEqual(["n1", "n2"]);
    const pending = placed.find(([, n]) => !n)![0];
    const [victim, freed] = placed.find(([, n]) => n)!;

    await pods.delete(victim, { namespace: "default" });
    await vi.waitFor(async () => {
      expect((await pods.get(pending, { namespace: "default" })).spec!.nodeName).toBe(freed);
    });
  });

  it("counts a node's bound pods from the informer, including those bound by others", async () => {
    const fake = new FakeClient();
    await fake.resource<Node>("Node").create(node("n1", { cpu: "1" }));
    await fake.resource<Node>("Node").create(node("n2", { cpu: "1" }));
    const pods = fake.resource<Pod>("Pod");
    await pods.create(pod("pinned", { cpu: "800m", node: "n1" }));
    void start(fake);
    await pods.create(pod("p", { cpu: "800m" }));
    await vi.waitFor(async () => {
      expect((await pods.get("p", { namespace: "default" })).spec!.nodeName).toBe("n2");
    });
  });
});
