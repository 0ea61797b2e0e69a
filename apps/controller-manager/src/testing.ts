import type { KubeObject } from "@tskube/api";
import type { Client } from "@tskube/client";
import { EventRecorder, FakeClock, SharedInformerFactory } from "@tskube/controller";
import { FakeClient } from "@tskube/controller/testing";
import { silentLogger } from "@tskube/log";
import type { ControllerContext } from "./context.js";
import { controllerManagerIndexers } from "./indexers.js";

/**
 * A controller context over in-memory fake resources, for unit tests. Its informers are never
 * started: tests put objects into the caches themselves, so a cache can be made as stale as a test
 * needs, while the controller's writes land in the fake client.
 */
export function fakeContext(now = Date.parse("2026-01-01T00:00:00Z")) {
  const client = new FakeClient();
  const clock = new FakeClock(now);
  const informers = new SharedInformerFactory(client as unknown as Pick<Client, "resource">, {
    clock,
    indexers: controllerManagerIndexers,
  });
  const ctx: ControllerContext = {
    client: client as unknown as Pick<Client, "resource">,
    informers,
    recorder: (component) => new EventRecorder({ events: client.resource("events"), component, clock }),
    clock,
    log: silentLogger,
  };
  return { ctx, client, clock, informers };
}

/** Every stored object of a kind, from the fake apiserver. */
export async function stored<T extends KubeObject>(client: FakeClient, kind: string): Promise<T[]> {
  return (await client.resource<T>(kind).list()).items;
}

/** Lets fire-and-forget writes (events) finish. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}
