import { createServer } from "node:net";
import { status } from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EtcdError } from "../../../apps/apiserver/src/storage/etcd-errors.js";
import { EtcdKv } from "../../../apps/apiserver/src/storage/etcd-kv.js";
import { type EtcdHandle, freePort, startEtcd } from "./harness.js";

const b = (s: string) => Buffer.from(s);

describe("EtcdKv against a real etcd", () => {
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

  it("creates only absent keys, updates and deletes only at the expected revision", async () => {
    const created = await kv.txn({ key: b("/t/a"), modRevision: 0, put: b("one") });
    expect(created.succeeded).toBe(true);
    expect(await reference.get("/t/a").string()).toBe("one");
    // The revision etcd reports is the key's mod_revision.
    const meta = await reference.get("/t/a").exec();
    expect(Number(meta.kvs[0]!.mod_revision)).toBe(created.revision);

    expect((await kv.txn({ key: b("/t/a"), modRevision: 0, put: b("again") })).succeeded).toBe(false);
    expect((await kv.txn({ key: b("/t/a"), modRevision: created.revision - 1, put: b("x") })).succeeded).toBe(
      false,
    );
    const updated = await kv.txn({ key: b("/t/a"), modRevision: created.revision, put: b("two") });
    expect(updated.succeeded).toBe(true);
    expect(updated.revision).toBeGreaterThan(created.revision);
    expect(await reference.get("/t/a").string()).toBe("two");

    expect((await kv.txn({ key: b("/t/a"), modRevision: created.revision })).succeeded).toBe(false);
    expect((await kv.txn({ key: b("/t/a"), modRevision: updated.revision })).succeeded).toBe(true);
    expect(await reference.get("/t/a").string()).toBeNull();
  });

  it("ranges with limit, start key, revision, counts and keys only", async () => {
    for (const k of ["/r/1", "/r/2", "/r/3", "/r/4"]) await reference.put(k).value(`v${k}`);
    const all = await kv.range({ key: b("/r/"), rangeEnd: b("/r0") });
    expect(all.kvs.map((x) => x.key.toString())).toEqual(["/r/1", "/r/2", "/r/3", "/r/4"]);
    expect(all.kvs.map((x) => x.value.toString())).toEqual(["v/r/1", "v/r/2", "v/r/3", "v/r/4"]);
    expect(all.count).toBe(4);
    expect(all.more).toBe(false);

    const page = await kv.range({ key: b("/r/"), rangeEnd: b("/r0"), limit: 2 });
    expect(page.kvs.map((x) => x.key.toString())).toEqual(["/r/1", "/r/2"]);
    expect(page.more).toBe(true);
    expect(page.count).toBe(4);

    await reference.put("/r/5").value("late");
    const then = await kv.range({ key: b("/r/3"), rangeEnd: b("/r0"), revision: page.revision });
    expect(then.kvs.map((x) => x.key.toString())).toEqual(["/r/3", "/r/4"]);

    const keys = await kv.range({ key: b("/r/"), rangeEnd: b("/r0"), keysOnly: true });
    expect(keys.kvs.every((x) => x.value.length === 0)).toBe(true);
    expect(keys.kvs[0]!.createRevision).toBeGreaterThan(0);
    expect(keys.kvs[0]!.version).toBe(1);

    expect((await kv.range({ key: b("/none") })).kvs).toEqual([]);
  });

  it("compacts; a read at a compacted or a future revision is etcd's error by code, not by text", async () => {
    await reference.put("/c/x").value("1");
    const old = (await kv.range({ key: b("/c/x") })).revision;
    await reference.put("/c/x").value("2");
    const now = (await kv.range({ key: b("/c/x") })).revision;
    await kv.compact(now);
    const compacted = await kv.range({ key: b("/c/x"), revision: old }).catch((e) => e);
    expect(compacted).toBeInstanceOf(EtcdError);
    expect(compacted).toMatchObject({ code: status.OUT_OF_RANGE, etcd: "compacted" });
    // Compacting again is etcd's "compacted" too (another apiserver got there first).
    await expect(kv.compact(now)).rejects.toMatchObject({ etcd: "compacted" });
    await expect(kv.range({ key: b("/c/x"), revision: now + 1000 })).rejects.toMatchObject({
      code: status.OUT_OF_RANGE,
      etcd: "futureRevision",
    });
  });

  it("reads the current value in the failed transaction when asked, in one round trip", async () => {
    const created = await kv.txn({ key: b("/u/a"), modRevision: 0, put: b("one") });
    const updated = await kv.txn({ key: b("/u/a"), modRevision: created.revision, put: b("two") });
    const before = kv.requests.txn;
    const stale = await kv.txn({
      key: b("/u/a"),
      modRevision: created.revision,
      put: b("x"),
      readOnFailure: true,
    });
    expect(kv.requests.txn - before).toBe(1);
    expect(stale.succeeded).toBe(false);
    expect(stale.current?.value.toString()).toBe("two");
    expect(stale.current?.modRevision).toBe(updated.revision);
    // Gone: the failure branch finds nothing.
    await kv.txn({ key: b("/u/a"), modRevision: updated.revision });
    const gone = await kv.txn({ key: b("/u/a"), modRevision: updated.revision, readOnFailure: true });
    expect(gone.succeeded).toBe(false);
    expect(gone.current).toBeUndefined();
    // A successful write reports no current value.
    const fresh = await kv.txn({ key: b("/u/b"), modRevision: 0, put: b("v"), readOnFailure: true });
    expect(fresh.succeeded).toBe(true);
    expect(fresh.current).toBeUndefined();
  });

  it("grants leases whose keys etcd deletes when they expire", async () => {
    const lease = await kv.leaseGrant(1);
    expect(lease.ttlSeconds).toBeGreaterThanOrEqual(1);
    // etcd's lease IDs use the whole int64.
    expect(typeof lease.id).toBe("bigint");
    await kv.txn({ key: b("/l/a"), modRevision: 0, put: b("v"), lease: lease.id });
    expect(await reference.get("/l/a").string()).toBe("v");
    const deadline = Date.now() + 10_000;
    while ((await reference.get("/l/a").string()) !== null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect(await reference.get("/l/a").string()).toBeNull();
    // A put on a lease that no longer exists is etcd's leaseNotFound.
    await expect(
      kv.txn({ key: b("/l/b"), modRevision: 0, put: b("v"), lease: lease.id }),
    ).rejects.toMatchObject({
      code: status.NOT_FOUND,
      etcd: "leaseNotFound",
    });
  });

  it("moves to the next member when one is unreachable, for reads and for unsent writes", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    // A listener that never answers: connecting to it must time out, not hang the call.
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const hung = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const multi = new EtcdKv([dead, hung, etcd.endpoint], { timeoutMs: 10_000, connectTimeoutMs: 300 });
    try {
      expect((await multi.txn({ key: b("/f/a"), modRevision: 0, put: b("ok") })).succeeded).toBe(true);
      expect((await multi.range({ key: b("/f/a") })).kvs[0]!.value.toString()).toBe("ok");
    } finally {
      multi.close();
      silent.close();
    }
    const none = new EtcdKv([dead], { timeoutMs: 2_000, connectTimeoutMs: 300 });
    try {
      await expect(none.range({ key: b("/f/a") })).rejects.toMatchObject({ code: 14 });
    } finally {
      none.close();
    }
  });
});
