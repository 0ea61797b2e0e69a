import { type AddressInfo, createServer as createTcpServer } from "node:net";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { ConfigMap, KINDS, type KindInfo } from "@tskube/api";
import {
  ApiError,
  isAlreadyExists,
  isConflict,
  isNotFound,
  isResourceExpired,
  isServiceUnavailable,
} from "@tskube/machinery";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Client, createClient } from "./client.js";
import { isAmbiguousWrite } from "./errors.js";
import { deadAddress, type FakeApiServer, FakeApiState, startFakeApiServer } from "./fake-api.test-helper.js";
import type { WatchEvent } from "./types.js";

const cmKind = KINDS.find((k) => k.kind === "ConfigMap") as unknown as KindInfo<ConfigMap>;
const cm = (name: string, v = "1") =>
  ConfigMap.fromPartial({ metadata: { name, namespace: "default" }, data: { v } });

async function caught(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error("expected the call to fail");
}

describe("createClient against two in-process apiservers", () => {
  let state: FakeApiState;
  let a: FakeApiServer;
  let b: FakeApiServer;
  let dead: string;
  let client: Client;

  beforeEach(async () => {
    state = new FakeApiState();
    a = await startFakeApiServer(state, "A");
    b = await startFakeApiServer(state, "B");
    dead = await deadAddress();
    client = createClient({ servers: [dead, a.address, b.address], timeoutMs: 2_000, retries: 4 });
  });

  afterEach(() => {
    client.close();
    a.kill();
    b.kill();
  });

  it("skips the dead address, round-trips typed objects and stays on the server that answered", async () => {
    const cms = client.resource(cmKind);
    const created = await cms.create(cm("one", "x"));
    expect(created.$type).toBe("tskube.v1.ConfigMap");
    expect(created.data).toEqual({ v: "x" });
    expect(created.metadata?.resourceVersion).toBe("1");
    expect(client.currentServer()).toBe(a.address);
    const got = await client.resource<ConfigMap>("configmaps").get("one", { namespace: "default" });
    expect(got.data.v).toBe("x");
    expect(state.calls).toEqual(["A create", "A get"]);
  });

  it("moves to the other apiserver when the current one dies", async () => {
    const cms = client.resource(cmKind);
    await cms.create(cm("one"));
    a.kill();
    const got = await cms.get("one", { namespace: "default" });
    expect(got.metadata?.name).toBe("one");
    expect(client.currentServer()).toBe(b.address);
    expect(state.calls.at(-1)).toBe("B get");
  });

  it("turns the Status trailer into ApiError, and falls back to the gRPC code without one", async () => {
    const cms = client.resource(cmKind);
    const first = await cms.create(cm("one"));

    const missing = await caught(cms.get("nope", { namespace: "default" }));
    expect(isNotFound(missing)).toBe(true);
    expect(missing.message).toBe('configmaps "nope" not found');
    expect(missing.details.name).toBe("nope");

    expect(isAlreadyExists(await caught(cms.create(cm("one"))))).toBe(true);
    await cms.update({ ...first, data: { v: "2" } });
    const stale = await caught(cms.update({ ...first, data: { v: "3" } }));
    expect(isConflict(stale)).toBe(true);
    expect(stale.code).toBe(GrpcStatus.ABORTED);

    const bare = await caught(cms.get("bare-error", { namespace: "default" }));
    expect(bare.reason).toBe("Forbidden");
    expect(bare.code).toBe(GrpcStatus.PERMISSION_DENIED);
    expect(bare.message).toBe("denied");
  });

  it("listAll follows continue tokens page by page", async () => {
    const cms = client.resource(cmKind);
    for (let i = 0; i < 7; i++) await cms.create(cm(`cm-${i}`));
    const page = await cms.list({ limit: 3 });
    expect(page.items.length).toBe(3);
    expect(page.continue).toBe("3");
    state.calls = [];
    const all = await cms.listAll({ limit: 3 });
    expect(all.items.map((o) => o.metadata?.name)).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `cm-${i}`));
    expect(all.resourceVersion).toBe("7");
    expect(all.continue).toBe("");
    expect(state.calls).toEqual(["A list", "A list", "A list"]);
  });

  it("watch streams changes after a revision and ends quietly when the signal aborts", async () => {
    const cms = client.resource(cmKind);
    const one = await cms.create(cm("one"));
    const ac = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const ev of cms.watch({
        resourceVersion: one.metadata!.resourceVersion,
        signal: ac.signal,
      })) {
        seen.push(`${ev.type} ${ev.object.metadata?.name} ${ev.object.data.v}`);
        if (seen.length === 2) ac.abort();
      }
    })();
    await waitFor(() => state.calls.includes("A watch"));
    await cms.update({ ...one, data: { v: "2" } });
    await cms.delete("one");
    await done;
    expect(seen).toEqual(["MODIFIED one 2", "DELETED one 2"]);
  });

  it("a watch whose signal aborts while it connects ends without opening a stream", async () => {
    const cms = client.resource(cmKind);
    await cms.create(cm("one")); // the client now points at A, which answers
    const ac = new AbortController();
    const watch = cms.watch({ resourceVersion: "0", signal: ac.signal })[Symbol.asyncIterator]();
    const first = watch.next();
    ac.abort();
    expect(await first).toEqual({ done: true, value: undefined });
    expect(state.calls.filter((c) => c.endsWith(" watch"))).toEqual([]);
  });

  it("watch throws ServiceUnavailable when its server dies; the resumed watch continues on the other", async () => {
    const cms = client.resource(cmKind);
    await cms.create(cm("one"));
    const events: WatchEvent<ConfigMap>[] = [];
    let failure: unknown;
    const firstWatch = (async () => {
      try {
        for await (const ev of cms.watch({ resourceVersion: "0" })) events.push(ev);
      } catch (err) {
        failure = err;
      }
    })();
    await waitFor(() => events.length === 1);
    a.kill();
    await firstWatch;
    expect(isServiceUnavailable(failure)).toBe(true);
    expect(client.currentServer()).toBe(b.address);

    // Written while no watch was open: resuming from the last revision seen must replay it.
    await cms.create(cm("two"));
    const last = events.at(-1)!.object.metadata!.resourceVersion;
    const ac = new AbortController();
    for await (const ev of cms.watch({ resourceVersion: last, signal: ac.signal })) {
      events.push(ev);
      ac.abort();
    }
    expect(events.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(["ADDED one", "ADDED two"]);
    expect(state.calls).toContain("B watch");
  });

  it("watch from a compacted revision fails with Expired so informers re-list", async () => {
    const cms = client.resource(cmKind);
    await cms.create(cm("one"));
    await cms.create(cm("two"));
    state.compact();
    const err = await caught(
      (async () => {
        for await (const _ of cms.watch({ resourceVersion: "1" })) throw new Error("no events expected");
      })(),
    );
    expect(isResourceExpired(err)).toBe(true);
    expect(err.message).toContain("too old resource version");
  });

  it("applies the call deadline and lets a signal cancel a call", async () => {
    const quick = createClient({ servers: [a.address], timeoutMs: 200 });
    try {
      const cms = quick.resource(cmKind);
      const timedOut = await caught(cms.get("hang", { namespace: "default" }));
      expect(timedOut.reason).toBe("Timeout");

      const ac = new AbortController();
      const pending = cms.get("hang", { namespace: "default", signal: ac.signal });
      ac.abort();
      await expect(pending).rejects.toThrow(/abort/i);
    } finally {
      quick.close();
    }
  });

  it("answers discovery and resolves resources by plural or short name", async () => {
    expect((await client.discovery()).map((r) => r.name)).toEqual(["configmaps"]);
    expect(client.resource("cm").kind.kind).toBe("ConfigMap");
    expect(() => client.resource("nonsense")).toThrow(/unknown resource/);
  });
});

describe("writes whose apiserver dies after applying them, before answering", () => {
  let state: FakeApiState;
  let a: FakeApiServer;
  let b: FakeApiServer;
  let client: Client;
  const cms = () => client.resource(cmKind);
  const dieOn = (verb: string) => {
    state.dieBeforeAnswering = (server, v) => server === "A" && v === verb;
  };

  beforeEach(async () => {
    state = new FakeApiState();
    a = await startFakeApiServer(state, "A");
    b = await startFakeApiServer(state, "B");
    client = createClient({ servers: [a.address, b.address], timeoutMs: 2_000, retries: 4 });
  });

  afterEach(() => {
    client.close();
    a.kill();
    b.kill();
  });

  it("a generateName create is not sent again: one object, and an error saying it may be applied", async () => {
    dieOn("create");
    const err = await caught(
      cms().create(ConfigMap.fromPartial({ metadata: { generateName: "gen-", namespace: "default" } })),
    );
    expect(isAmbiguousWrite(err)).toBe(true);
    expect(isServiceUnavailable(err)).toBe(true);
    expect(err.message).toMatch(
      /^create configmaps with generateName "gen-" in namespace "default": the request may or may not have been applied \(/,
    );
    expect(err.details).toEqual({ kind: "configmaps", name: "gen-", group: "" });
    // The old policy sent it again to B, which made a second object.
    expect(state.calls).toEqual(["A create"]);
    expect(state.list("configmaps", "default").map((o) => o.metadata?.name)).toEqual(["gen-1"]);
    expect(client.currentServer()).toBe(b.address);
  });

  it("a named create is sent again, and its AlreadyExists recognised as the lost attempt's", async () => {
    dieOn("create");
    const made = await cms().create(cm("named", "x"));
    expect(made.metadata?.name).toBe("named");
    expect(made.metadata?.resourceVersion).toBe("1");
    expect(state.calls).toEqual(["A create", "B create", "B get"]);
    expect(state.list("configmaps", "default")).toHaveLength(1);
  });

  it("a named create whose name another object holds stays an AlreadyExists when nothing was lost", async () => {
    await cms().create(cm("taken", "theirs"));
    expect(isAlreadyExists(await caught(cms().create(cm("taken", "ours"))))).toBe(true);
  });

  it("an update with a resourceVersion is judged by re-reading: applied once, answered as success", async () => {
    const first = await cms().create(cm("u", "1"));
    dieOn("update");
    const updated = await cms().update({ ...first, data: { v: "2" } });
    expect(updated.data).toEqual({ v: "2" });
    expect(updated.metadata?.resourceVersion).toBe("2");
    expect(state.calls.slice(-2)).toEqual(["A update", "B get"]);
    expect(state.rv).toBe(2);
  });

  it("an update without a resourceVersion is not sent again", async () => {
    const first = await cms().create(cm("plain", "1"));
    dieOn("update");
    const err = await caught(
      cms().update({ ...first, metadata: { ...first.metadata!, resourceVersion: "" }, data: { v: "2" } }),
    );
    expect(isAmbiguousWrite(err)).toBe(true);
    expect(err.message).toMatch(
      /^update configmaps "plain" in namespace "default": the request may or may not/,
    );
    expect(state.calls.filter((c) => c.endsWith("update"))).toEqual(["A update"]);
  });

  it("a delete without preconditions is not sent again; with one it is, and NotFound tells it is gone", async () => {
    await cms().create(cm("d1"));
    await cms().create(cm("d2"));
    dieOn("delete");
    const err = await caught(cms().delete("d1"));
    expect(isAmbiguousWrite(err)).toBe(true);
    expect(err.message).toMatch(/^delete configmaps "d1" in namespace "default": /);

    // Back on A for the next one (B is now current; A was killed): start a fresh pair.
    const c2 = await startFakeApiServer(state, "A");
    const d2 = createClient({ servers: [c2.address, b.address], timeoutMs: 2_000 });
    try {
      state.calls = [];
      const resourceVersion = state.get("configmaps", "default", "d2").metadata!.resourceVersion;
      const notFound = await caught(d2.resource(cmKind).delete("d2", { preconditions: { resourceVersion } }));
      expect(isNotFound(notFound)).toBe(true);
      expect(state.calls).toEqual(["A delete", "B delete"]);
    } finally {
      d2.close();
      c2.kill();
    }
  });

  it("a read whose server dies before answering is sent again", async () => {
    await cms().create(cm("r"));
    dieOn("get");
    expect((await cms().get("r", { namespace: "default" })).metadata?.name).toBe("r");
    expect(state.calls.slice(-2)).toEqual(["A get", "B get"]);
  });
});

describe("createClient with no live server", () => {
  it("gives up after the configured retries with ServiceUnavailable", async () => {
    const client = createClient({ servers: [await deadAddress(), await deadAddress()], retries: 3 });
    try {
      const started = Date.now();
      const err = await caught(client.resource(cmKind).get("x"));
      expect(isServiceUnavailable(err)).toBe(true);
      // Backoff is short and bounded: 4 attempts over 2 servers sleep once (100 ms) between rounds.
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      client.close();
    }
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("createClient with a server that accepts connections but never answers", () => {
  it("gives up on it after connectTimeoutMs and fails over, instead of spending the call deadline", async () => {
    const silent = createTcpServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const state = new FakeApiState();
    const live = await startFakeApiServer(state, "live");
    const client = createClient({
      servers: [`127.0.0.1:${(silent.address() as AddressInfo).port}`, live.address],
      timeoutMs: 10_000,
      connectTimeoutMs: 300,
    });
    try {
      const started = Date.now();
      await client.resource(cmKind).create(cm("one"));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(client.currentServer()).toBe(live.address);
    } finally {
      client.close();
      live.kill();
      silent.close();
    }
  });
});
