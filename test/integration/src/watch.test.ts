import { ConfigMap, KINDS, Namespace } from "@tskube/api";
import type { ResourceClient, WatchEvent } from "@tskube/client";
import { createClient } from "@tskube/client";
import { isResourceExpired } from "@tskube/machinery";
import { Etcd3 } from "etcd3";
import { describe, expect, it } from "vitest";
import { type ApiserverHandle, type EtcdHandle, startApiserver, startEtcd, waitFor } from "./harness.js";

const cmKind = KINDS.find((k) => k.kind === "ConfigMap")!;
const nsKind = KINDS.find((k) => k.kind === "Namespace")!;

interface Seen {
  type: string;
  name: string;
  rv: number;
}

/**
 * Follows a watch from a revision the way an informer does: when the stream breaks it resumes from
 * the last revision it saw, so every change must arrive exactly once.
 */
function follow(cms: ResourceClient<ConfigMap>, namespace: string, fromRv: string) {
  const seen: Seen[] = [];
  const ac = new AbortController();
  let lastRv = fromRv;
  let resumes = 0;
  const done = (async () => {
    while (!ac.signal.aborted) {
      try {
        for await (const ev of cms.watch({
          namespace,
          resourceVersion: lastRv,
          allowWatchBookmarks: true,
          signal: ac.signal,
        })) {
          const e = ev as WatchEvent<ConfigMap>;
          lastRv = e.object.metadata!.resourceVersion;
          if (e.type !== "BOOKMARK")
            seen.push({ type: e.type, name: e.object.metadata!.name, rv: Number(lastRv) });
        }
      } catch (err) {
        if (isResourceExpired(err)) throw err;
        resumes++;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  })();
  return { seen, stop: () => ac.abort(), done, resumes: () => resumes };
}

async function churn(
  cms: ResourceClient<ConfigMap>,
  namespace: string,
  prefix: string,
  n: number,
): Promise<Seen[]> {
  const expected: Seen[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${prefix}-${i % 5}`;
    const existing = await cms.get(name, { namespace }).catch(() => undefined);
    if (!existing) {
      const o = await cms.create(
        ConfigMap.fromPartial({ metadata: { name, namespace }, data: { i: String(i) } }),
      );
      expected.push({ type: "ADDED", name, rv: Number(o.metadata!.resourceVersion) });
    } else if (i % 3 === 0) {
      const { object } = await cms.delete(name, { namespace });
      expected.push({ type: "DELETED", name, rv: Number(object.metadata!.resourceVersion) });
    } else {
      const o = await cms.update({ ...existing, data: { i: String(i) } });
      expected.push({ type: "MODIFIED", name, rv: Number(o.metadata!.resourceVersion) });
    }
  }
  return expected;
}

describe("watch", () => {
  it("delivers every change after R exactly once and in order, across an apiserver restart", async () => {
    const etcd: EtcdHandle = await startEtcd();
    let api: ApiserverHandle = await startApiserver(etcd.endpoint);
    const port = Number(api.address.split(":")[1]);
    const client = createClient({ servers: [api.address], timeoutMs: 5000, retries: 20 });
    try {
      await client.resource(nsKind).create(Namespace.fromPartial({ metadata: { name: "w" } }));
      const cms = client.resource<ConfigMap>(cmKind as never);
      const { resourceVersion: r } = await cms.list({ namespace: "w" });
      const watcher = follow(cms, "w", r);
      const before = await churn(cms, "w", "a", 40);
      await waitFor("events before restart", async () => watcher.seen.length >= before.length, 20_000);
      expect(await api.stop()).toBe(0);
      api = await startApiserver(etcd.endpoint, { grpcPort: port });
      const after = await churn(cms, "w", "b", 40);
      const expected = [...before, ...after];
      await waitFor("events after restart", async () => watcher.seen.length >= expected.length, 30_000);
      watcher.stop();
      await watcher.done;
      expect(watcher.resumes()).toBeGreaterThan(0);
      expect(watcher.seen).toEqual(expected);
    } finally {
      client.close();
      await api.stop();
      await etcd.stop();
    }
  });

  it("answers a watch from a compacted revision with 'too old'", async () => {
    const etcd = await startEtcd();
    // A small watch cache, so the revision falls out of the cache's ring and etcd must answer.
    const api = await startApiserver(etcd.endpoint, { extraArgs: ["--watch-cache-size", "5"] });
    const client = createClient({ servers: [api.address], timeoutMs: 5000 });
    const raw = new Etcd3({ hosts: etcd.endpoint });
    try {
      await client.resource(nsKind).create(Namespace.fromPartial({ metadata: { name: "c" } }));
      const cms = client.resource<ConfigMap>(cmKind as never);
      const first = await cms.create(ConfigMap.fromPartial({ metadata: { name: "x", namespace: "c" } }));
      await churn(cms, "c", "y", 10);
      const { resourceVersion } = await cms.list({ namespace: "c" });
      await raw.kv.compact({ revision: Number(resourceVersion) });
      const err = await (async () => {
        for await (const _ of cms.watch({
          namespace: "c",
          resourceVersion: first.metadata!.resourceVersion,
        })) {
          // a too-old watch must fail before yielding anything
        }
      })().catch((e: unknown) => e);
      expect(isResourceExpired(err), String(err)).toBe(true);
      expect(String((err as Error).message)).toMatch(/too old resource version/);
    } finally {
      raw.close();
      client.close();
      await api.stop();
      await etcd.stop();
    }
  });
});

describe("informer after compaction", () => {
  it("re-lists when its revision was compacted and reports what it missed, deletions included", async () => {
    const { Informer } = await import("@tskube/controller");
    const etcd = await startEtcd();
    let api = await startApiserver(etcd.endpoint, { extraArgs: ["--watch-cache-size", "5"] });
    const port = Number(api.address.split(":")[1]);
    const client = createClient({ servers: [api.address], timeoutMs: 5000, retries: 20 });
    const raw = new Etcd3({ hosts: etcd.endpoint });
    try {
      await client.resource(nsKind).create(Namespace.fromPartial({ metadata: { name: "rl" } }));
      const cms = client.resource<ConfigMap>(cmKind as never);
      for (const n of ["keep", "gone"])
        await cms.create(ConfigMap.fromPartial({ metadata: { name: n, namespace: "rl" } }));
      const informer = new Informer(cms, { namespace: "rl", initialBackoffMs: 100 });
      const events: string[] = [];
      informer.addEventHandler({
        onAdd: (o) => events.push(`add ${o.metadata!.name}`),
        onDelete: (o) => events.push(`delete ${o.metadata!.name}`),
      });
      const ac = new AbortController();
      const running = informer.run(ac.signal);
      await informer.waitForSync();
      // While the apiserver is down, the world changes and history is compacted away.
      await api.stop();
      api = await startApiserver(etcd.endpoint, { grpcPort: port + 1 });
      const direct = createClient({ servers: [api.address] });
      await direct.resource(cmKind).delete("gone", { namespace: "rl" });
      for (let i = 0; i < 10; i++) {
        await direct
          .resource(cmKind)
          .create(ConfigMap.fromPartial({ metadata: { name: `new-${i}`, namespace: "rl" } }));
      }
      const { resourceVersion } = await direct.resource(cmKind).list({ namespace: "rl" });
      await raw.kv.compact({ revision: Number(resourceVersion) });
      direct.close();
      await api.stop();
      api = await startApiserver(etcd.endpoint, { grpcPort: port, extraArgs: ["--watch-cache-size", "5"] });
      await waitFor("the informer to re-list", async () => informer.store.size === 11, 30_000);
      expect(events).toContain("delete gone");
      expect(events.filter((e) => e.startsWith("add new-")).length).toBe(10);
      expect(informer.store.listKeys().sort()).toEqual(
        ["rl/keep", ...Array.from({ length: 10 }, (_, i) => `rl/new-${i}`)].sort(),
      );
      ac.abort();
      await running;
    } finally {
      raw.close();
      client.close();
      await api.stop();
      await etcd.stop();
    }
  });
});
