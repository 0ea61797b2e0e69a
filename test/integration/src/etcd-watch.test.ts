import { connect, createServer, type Server, type Socket } from "node:net";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EtcdKv } from "../../../apps/apiserver/src/storage/etcd-kv.js";
import { prefixEnd } from "../../../apps/apiserver/src/storage/etcd-store.js";
import {
  EtcdWatch,
  type WatchCompactedError,
  type WatchEvent,
  type WatchHandlers,
} from "../../../apps/apiserver/src/storage/etcd-watch.js";
import { type EtcdHandle, freePort, startEtcd } from "./harness.js";

const b = (s: string) => Buffer.from(s);

/** A TCP forwarder to etcd standing in for one member: cut() breaks every connection through it. */
interface Member {
  endpoint: string;
  connections: number;
  cut(): void;
  close(): Promise<void>;
}

async function member(target: string): Promise<Member> {
  const [host, port] = target.replace("http://", "").split(":");
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((client) => {
    connections++;
    const upstream = connect(Number(port), host!);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const cut = () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    get connections() {
      return connections;
    },
    cut,
    close: () =>
      new Promise<void>((r) => {
        cut();
        server.close(() => r());
      }),
  };
}

/** Collects what a watch delivers; `until` waits for a condition on it. */
function recorder() {
  const events: WatchEvent[] = [];
  const retries: Error[] = [];
  let error: Error | undefined;
  let created = false;
  const handlers: WatchHandlers = {
    onCreated: () => {
      created = true;
    },
    onEvents: (e) => events.push(...e),
    onRetry: (err) => retries.push(err),
    onError: (err) => {
      error = err;
    },
  };
  const until = async (what: string, ok: () => boolean, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    events,
    retries,
    handlers,
    until,
    get error() {
      return error;
    },
    get created() {
      return created;
    },
  };
}

describe("EtcdWatch against a real etcd", () => {
  let etcd: EtcdHandle;
  let kv: EtcdKv;
  let reference: Etcd3;

  beforeAll(async () => {
    etcd = await startEtcd();
    kv = new EtcdKv([etcd.endpoint], { timeoutMs: 10_000, connectTimeoutMs: 2_000 });
    reference = new Etcd3({ hosts: etcd.endpoint });
  });
  afterAll(async () => {
    kv.close();
    reference.close();
    await etcd.stop();
  });

  it("replays history from the start revision, then follows live changes, with previous values", async () => {
    await reference.put("/w/a").value("1");
    const start = (await kv.range({ key: b("/w/a") })).kvs[0]!.modRevision;
    await reference.put("/w/a").value("2");
    await reference.put("/other").value("x");
    await reference.delete().key("/w/a");
    const rec = recorder();
    const w = new EtcdWatch(
      kv,
      { key: b("/w/"), rangeEnd: prefixEnd("/w/"), startRevision: start, prevKv: true },
      rec.handlers,
    );
    try {
      await rec.until("history", () => rec.events.length >= 3);
      expect(rec.created).toBe(true);
      await reference.put("/w/b").value("live");
      await rec.until("live event", () => rec.events.length >= 4);
      const seen = rec.events.map((e) => [e.type, e.kv.key.toString(), e.kv.value.toString()]);
      expect(seen).toEqual([
        ["put", "/w/a", "1"],
        ["put", "/w/a", "2"],
        ["delete", "/w/a", ""],
        ["put", "/w/b", "live"],
      ]);
      // The key outside the range is not delivered; prev_kv carries the replaced and deleted values.
      expect(rec.events[1]!.prevKv?.value.toString()).toBe("1");
      expect(rec.events[2]!.prevKv?.value.toString()).toBe("2");
      expect(rec.events[0]!.prevKv).toBeUndefined();
      const revs = rec.events.map((e) => e.kv.modRevision);
      expect([...revs].sort((x, y) => x - y)).toEqual(revs);
      expect(w.resumeRevision).toBe(revs[revs.length - 1]! + 1);
      expect(rec.error).toBeUndefined();
    } finally {
      w.cancel();
    }
  });

  it("ends with a compaction error when the start revision is compacted", async () => {
    await reference.put("/c/a").value("1");
    const old = (await kv.range({ key: b("/c/a") })).revision;
    await reference.put("/c/a").value("2");
    const now = (await kv.range({ key: b("/c/a") })).revision;
    await kv.compact(now);
    const rec = recorder();
    const w = new EtcdWatch(kv, { key: b("/c/a"), startRevision: old }, rec.handlers);
    try {
      await rec.until("the compaction error", () => rec.error !== undefined);
      expect(rec.error!.name).toBe("WatchCompactedError");
      expect((rec.error as WatchCompactedError).compactRevision).toBe(now);
      expect(rec.events).toEqual([]);
    } finally {
      w.cancel();
    }
  });

  it("resumes on the next member after a broken stream without missing or repeating an event", async () => {
    const first = await member(etcd.endpoint);
    const second = await member(etcd.endpoint);
    const dead = `http://127.0.0.1:${await freePort()}`;
    const multi = new EtcdKv([dead, first.endpoint, second.endpoint], {
      timeoutMs: 10_000,
      connectTimeoutMs: 500,
    });
    const rec = recorder();
    const start = (await kv.range({ key: b("/r/") })).revision + 1;
    const w = new EtcdWatch(
      multi,
      { key: b("/r/"), rangeEnd: prefixEnd("/r/"), startRevision: start, retryDelayMs: 20 },
      rec.handlers,
    );
    const writes = 300;
    try {
      // The unreachable member is skipped on the way in.
      await rec.until("the watch to be created", () => rec.created);
      expect(first.connections).toBe(1);
      let written = 0;
      const writer = (async () => {
        for (; written < writes; written++) await reference.put(`/r/${written}`).value(String(written));
      })();
      await rec.until("some events", () => rec.events.length >= 50);
      // The member goes away mid-stream: its connections break and it takes no new ones.
      await first.close();
      await writer;
      await rec.until("every event", () => rec.events.length >= writes);
      expect(rec.retries.length).toBeGreaterThan(0);
      expect(second.connections).toBeGreaterThan(0);
      expect(rec.events.map((e) => e.kv.key.toString())).toEqual(
        Array.from({ length: writes }, (_, i) => `/r/${i}`),
      );
      expect(rec.error).toBeUndefined();
    } finally {
      w.cancel();
      multi.close();
      await second.close();
    }
  });

  it("stops delivering once canceled", async () => {
    const rec = recorder();
    const start = (await kv.range({ key: b("/x/") })).revision + 1;
    const w = new EtcdWatch(
      kv,
      { key: b("/x/"), rangeEnd: prefixEnd("/x/"), startRevision: start },
      rec.handlers,
    );
    await rec.until("the watch to be created", () => rec.created);
    await reference.put("/x/1").value("1");
    await rec.until("the first event", () => rec.events.length === 1);
    w.cancel();
    await reference.put("/x/2").value("2");
    // A later watch sees the second write, so it reached etcd while the canceled one stayed quiet.
    const check = recorder();
    const w2 = new EtcdWatch(kv, { key: b("/x/2"), startRevision: start }, check.handlers);
    try {
      await check.until("the second write", () => check.events.length === 1);
      expect(rec.events.length).toBe(1);
      expect(rec.error).toBeUndefined();
    } finally {
      w2.cancel();
    }
  });
});
