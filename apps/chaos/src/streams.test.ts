import type { ConfigMap } from "@tskube/api";
import { AmbiguousWriteError } from "@tskube/client";
import { FakeClock } from "@tskube/controller";
import { describe, expect, it } from "vitest";
import { RequestStream } from "./requests.js";
import { WriteStream } from "./writes.js";

describe("RequestStream", () => {
  it("sends on schedule round-robin over the current endpoints and records answers and latency", async () => {
    const clock = new FakeClock(0);
    const sent: string[] = [];
    let endpoints = [
      { host: "a", port: 1 },
      { host: "b", port: 1 },
    ];
    const stream = new RequestStream({
      requestsPerSecond: 10,
      timeoutMs: 1000,
      clock,
      endpoints: () => endpoints,
      send: (e) => {
        sent.push(e.host);
        // b answers after 250 ms with a failure, a at once
        return e.host === "b"
          ? new Promise((r) => clock.setTimeout(() => r(false), 250))
          : Promise.resolve(true);
      },
    });
    stream.start();
    await clock.step(350);
    expect(sent).toEqual(["a", "b", "a", "b"]);
    endpoints = [];
    await clock.step(100);
    // stop() waits for the answer still due at 550 ms
    const stopped = stream.stop();
    await clock.step(1000);
    await stopped;
    expect(sent).toHaveLength(4);
    const byAt = [...stream.records].sort((x, y) => x.at - y.at);
    expect(byAt.map((r) => [r.at, r.ok, r.latencyMs])).toEqual([
      [0, true, 0],
      [100, false, 250],
      [200, true, 0],
      [300, false, 250],
      [400, false, 0],
    ]);
  });
});

describe("WriteStream", () => {
  /** A client whose creates answer after 50 ms with a generated name, or fail while `fail` says so. */
  function fakeCreates(fail: () => Error | undefined) {
    const created: ConfigMap[] = [];
    let n = 0;
    const client = {
      resource: () => ({
        create: (o: ConfigMap) => {
          const err = fail();
          if (err) return Promise.reject(err);
          return new Promise<ConfigMap>((r) =>
            clock.setTimeout(() => {
              const stored = {
                ...o,
                metadata: { ...o.metadata!, name: `${o.metadata!.generateName}${n++}` },
              };
              created.push(stored);
              r(stored);
            }, 50),
          );
        },
      }),
    } as unknown as ConstructorParameters<typeof WriteStream>[0]["client"];
    return { client, created };
  }
  let clock: FakeClock;
  const stream = (client: ConstructorParameters<typeof WriteStream>[0]["client"]) =>
    new WriteStream({
      client,
      namespace: "chaos",
      experiment: "e1",
      writesPerSecond: 20,
      maxInFlight: 10,
      clock,
    });

  it("counts acknowledged and rejected writes, bounds the writes in flight and finds the lost ones", async () => {
    clock = new FakeClock(0);
    let fail = false;
    const { client, created } = fakeCreates(() =>
      fail ? new Error("UNAVAILABLE: etcd leader changed") : undefined,
    );
    const w = stream(client);
    w.start();
    await clock.step(190);
    fail = true;
    await clock.step(100);
    await w.stop();
    await clock.step(100);
    expect([...w.acknowledged.keys()]).toEqual(["e1-w-0", "e1-w-1", "e1-w-2", "e1-w-3"]);
    expect(w.rejected).toBe(2);
    expect(w.maybeApplied.size).toBe(0);
    expect(created[0]?.metadata?.labels).toEqual({
      "chaos.tskube.io/experiment": "e1",
      "chaos.tskube.io/write": "0",
    });
    expect(w.lost(new Set(["e1-w-0", "e1-w-2", "e1-w-3"]))).toEqual(["e1-w-1"]);
    expect(w.duplicated(created)).toEqual([]);
  });

  it("counts an object no acknowledged write returned as a duplicate, one allowed per maybe-applied write", async () => {
    clock = new FakeClock(0);
    let calls = 0;
    // Writes 2 and 3 fail: 2 saying it may have been applied, 3 plainly.
    const { client, created } = fakeCreates(() => {
      const call = calls++;
      if (call === 2)
        return new AmbiguousWriteError(
          'create configmaps with generateName "e1-w-": the request may or may not have been applied',
          {},
        );
      if (call === 3) return new Error("Invalid");
      return undefined;
    });
    const w = stream(client);
    w.start();
    await clock.step(190);
    await w.stop();
    await clock.step(100);
    expect(w.acknowledged.size).toBe(2);
    expect([...w.maybeApplied]).toEqual([2]);
    const obj = (name: string, write: string) => ({
      metadata: { name, labels: { "chaos.tskube.io/experiment": "e1", "chaos.tskube.io/write": write } },
    });
    // What the API holds: the two acknowledged, write 2's object (it was applied after all), a
    // second object for write 0 (a resent create) and one for the plainly rejected write 3.
    const stored = [...created, obj("e1-w-x2", "2"), obj("e1-w-y0", "0"), obj("e1-w-z3", "3")];
    expect(w.duplicated(stored)).toEqual(["e1-w-y0", "e1-w-z3"]);
    // Two objects for the maybe-applied write: one is a duplicate.
    expect(w.duplicated([...created, obj("e1-w-x2", "2"), obj("e1-w-q2", "2")])).toEqual(["e1-w-q2"]);
  });
});
