import { ConfigMap, KINDS, Namespace } from "@tskube/api";
import { createClient, type WatchEvent } from "@tskube/client";
import { describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import { waitFor } from "./harness.js";

const cmKind = KINDS.find((k) => k.kind === "ConfigMap")!;
const nsKind = KINDS.find((k) => k.kind === "Namespace")!;

describe("two apiservers on one etcd", () => {
  const c = useCluster({ apiservers: 2 });

  it("behave as one: a write through one is read and watched through the other", async () => {
    const [a, b] = c.apiservers.map((s) => createClient({ servers: [s.address] }));
    try {
      await a!.resource(nsKind).create(Namespace.fromPartial({ metadata: { name: "both" } }));
      const ac = new AbortController();
      const seen: string[] = [];
      const { resourceVersion } = await b!.resource(cmKind).list({ namespace: "both" });
      const watching = (async () => {
        for await (const ev of b!
          .resource<ConfigMap>(cmKind as never)
          .watch({ namespace: "both", resourceVersion, signal: ac.signal })) {
          seen.push(`${ev.type} ${ev.object.metadata!.name}`);
        }
      })();
      const made = await a!
        .resource<ConfigMap>(cmKind as never)
        .create(
          ConfigMap.fromPartial({ metadata: { name: "shared", namespace: "both" }, data: { from: "a" } }),
        );
      const read = await b!.resource<ConfigMap>(cmKind as never).get("shared", { namespace: "both" });
      expect(read.metadata!.uid).toBe(made.metadata!.uid);
      expect(read.metadata!.resourceVersion).toBe(made.metadata!.resourceVersion);
      await waitFor("watch through b", async () => seen.includes("ADDED shared"), 10_000);
      const dup = await b!
        .resource<ConfigMap>(cmKind as never)
        .create(made)
        .catch((e: Error) => e);
      expect(String(dup)).toContain('configmaps "shared" already exists');
      ac.abort();
      await watching;
    } finally {
      a!.close();
      b!.close();
    }
  });

  it("survives SIGKILL of one apiserver mid-stream: writers and watchers fail over, no event is missed", async () => {
    const reader = createClient({ servers: c.servers, timeoutMs: 3000, retries: 20 });
    const writer = createClient({ servers: [...c.servers].reverse(), timeoutMs: 3000, retries: 20 });
    const cms = writer.resource<ConfigMap>(cmKind as never);
    await writer.resource(nsKind).create(Namespace.fromPartial({ metadata: { name: "fo" } }));
    const { resourceVersion } = await reader.resource(cmKind).list({ namespace: "fo" });
    const seen = new Map<string, number>();
    const ac = new AbortController();
    let lastRv = resourceVersion;
    let resumes = 0;
    const watching = (async () => {
      while (!ac.signal.aborted) {
        try {
          for await (const ev of reader.resource<ConfigMap>(cmKind as never).watch({
            namespace: "fo",
            resourceVersion: lastRv,
            allowWatchBookmarks: true,
            signal: ac.signal,
          })) {
            const e = ev as WatchEvent<ConfigMap>;
            lastRv = e.object.metadata!.resourceVersion;
            if (e.type === "ADDED")
              seen.set(e.object.metadata!.name, (seen.get(e.object.metadata!.name) ?? 0) + 1);
          }
        } catch {
          resumes++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();
    const total = 300;
    const written: string[] = [];
    for (let i = 0; i < total; i++) {
      if (i === total / 2) await c.apiservers[0]!.kill();
      const name = `cm-${i}`;
      await cms.create(ConfigMap.fromPartial({ metadata: { name, namespace: "fo" } }));
      written.push(name);
    }
    await waitFor("every event through the surviving apiserver", async () => seen.size === total, 30_000);
    ac.abort();
    await watching;
    expect(resumes).toBeGreaterThan(0);
    expect([...seen.keys()].sort()).toEqual([...written].sort());
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    reader.close();
    writer.close();
  });
});

describe("informers across an apiserver crash", () => {
  const c = useCluster({ apiservers: 2 });

  it("an informer on the killed apiserver fails over and catches up without missing a change", async () => {
    const { Informer } = await import("@tskube/controller");
    const reader = createClient({ servers: c.servers, timeoutMs: 3000, retries: 20 });
    const writer = createClient({ servers: [...c.servers].reverse(), timeoutMs: 3000, retries: 20 });
    await writer.resource(nsKind).create(Namespace.fromPartial({ metadata: { name: "inf" } }));
    const informer = new Informer(reader.resource<ConfigMap>(cmKind as never), {
      namespace: "inf",
      initialBackoffMs: 100,
    });
    const added = new Map<string, number>();
    const updated = new Map<string, string>();
    informer.addEventHandler({
      onAdd: (o) => added.set(o.metadata!.name, (added.get(o.metadata!.name) ?? 0) + 1),
      onUpdate: (_, n) => updated.set(n.metadata!.name, n.data.v ?? ""),
    });
    const ac = new AbortController();
    const running = informer.run(ac.signal);
    await informer.waitForSync();
    const cms = writer.resource<ConfigMap>(cmKind as never);
    const total = 200;
    for (let i = 0; i < total; i++) {
      if (i === total / 2) await c.apiservers[0]!.kill();
      const o = await cms.create(
        ConfigMap.fromPartial({ metadata: { name: `c-${i}`, namespace: "inf" }, data: { v: "1" } }),
      );
      if (i % 10 === 0) await cms.update({ ...o, data: { v: "2" } });
    }
    await waitFor(
      "the informer to hold every object",
      async () => informer.store.size === total && updated.size === total / 10,
      30_000,
    );
    expect([...added.values()].every((n) => n === 1)).toBe(true);
    expect([...updated.values()].every((v) => v === "2")).toBe(true);
    expect(reader.currentServer()).toBe(c.servers[1]);
    ac.abort();
    await running;
    reader.close();
    writer.close();
  });
});
