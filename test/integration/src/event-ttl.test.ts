import { ConfigMap, Event, KINDS } from "@tskube/api";
import { createClient } from "@tskube/client";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiserverHandle, type EtcdHandle, startApiserver, startEtcd } from "./harness.js";

const eventKind = KINDS.find((k) => k.kind === "Event")!;
const cmKind = KINDS.find((k) => k.kind === "ConfigMap")!;

describe("Events expire through an etcd lease (--event-ttl)", () => {
  let etcd: EtcdHandle;
  let api: ApiserverHandle;
  let reference: Etcd3;

  beforeAll(async () => {
    etcd = await startEtcd();
    api = await startApiserver(etcd.endpoint, { extraArgs: ["--event-ttl", "3s"] });
    reference = new Etcd3({ hosts: etcd.endpoint });
  });
  afterAll(async () => {
    reference.close();
    await api.stop();
    await etcd.stop();
  });

  it("deletes an Event ttl after its last write, from etcd and from watches; other kinds stay", async () => {
    const client = createClient({ servers: [api.address], timeoutMs: 10_000 });
    try {
      const events = client.resource<Event>(eventKind as never);
      const cms = client.resource<ConfigMap>(cmKind as never);
      const { resourceVersion } = await events.list({ namespace: "default" });
      const ac = new AbortController();
      const seen: { type: string; name: string; at: number }[] = [];
      const watching = (async () => {
        for await (const ev of events.watch({ namespace: "default", resourceVersion, signal: ac.signal }))
          seen.push({ type: ev.type, name: ev.object.metadata!.name, at: Date.now() });
      })().catch(() => undefined);

      const written = Date.now();
      const ev = await events.create(
        Event.fromPartial({
          metadata: { name: "short-lived", namespace: "default" },
          involvedObject: { kind: "ConfigMap", name: "keeper", namespace: "default" },
          reason: "Testing",
          message: "expires",
        }),
      );
      await cms.create(
        ConfigMap.fromPartial({ metadata: { name: "keeper", namespace: "default" }, data: { a: "b" } }),
      );
      const key = "/registry/events/default/short-lived";
      const lease = await reference.get(key).exec();
      // Attached to a lease etcd counts down (etcd's minimum TTL may round 3 s up).
      expect(Number(lease.kvs[0]!.lease)).not.toBe(0);
      expect(Number(ev.metadata!.resourceVersion)).toBeGreaterThan(0);

      const deadline = Date.now() + 20_000;
      while (!seen.some((s) => s.type === "DELETED") && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      ac.abort();
      await watching;
      const deleted = seen.find((s) => s.type === "DELETED" && s.name === "short-lived");
      expect(deleted, JSON.stringify(seen)).toBeDefined();
      // Not before the ttl (3 s), and within the ttl plus etcd's lease expiry checks.
      expect(deleted!.at - written).toBeGreaterThanOrEqual(3_000);
      expect(deleted!.at - written).toBeLessThan(15_000);
      expect(await reference.get(key).string()).toBeNull();
      expect((await events.list({ namespace: "default", resourceVersion: "0" })).items).toEqual([]);
      // The ConfigMap written at the same time carries no lease and is still there.
      const keeper = await reference.get("/registry/configmaps/default/keeper").exec();
      expect(Number(keeper.kvs[0]!.lease)).toBe(0);
    } finally {
      client.close();
    }
  });
});
