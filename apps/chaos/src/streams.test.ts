import type { ConfigMap } from "@tskube/api";
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
  it("counts acknowledged and rejected writes, bounds the writes in flight and finds the lost ones", async () => {
    const clock = new FakeClock(0);
    const created: ConfigMap[] = [];
    let fail = false;
    const client = {
      resource: () => ({
        create: (o: ConfigMap) =>
          fail
            ? Promise.reject(new Error("UNAVAILABLE: etcd leader changed"))
            : new Promise<ConfigMap>((r) =>
                clock.setTimeout(() => {
                  created.push(o);
                  r(o);
                }, 50),
              ),
      }),
    } as unknown as ConstructorParameters<typeof WriteStream>[0]["client"];
    const w = new WriteStream({
      client,
      namespace: "chaos",
      experiment: "e1",
      writesPerSecond: 20,
      maxInFlight: 10,
      clock,
    });
    w.start();
    await clock.step(190);
    fail = true;
    await clock.step(100);
    await w.stop();
    await clock.step(100);
    expect([...w.acknowledged.keys()]).toEqual(["e1-w0", "e1-w1", "e1-w2", "e1-w3"]);
    expect(w.rejected).toBe(2);
    expect(created[0]?.metadata?.labels).toEqual({ "chaos.tskube.io/experiment": "e1" });
    expect(w.lost(new Set(["e1-w0", "e1-w2", "e1-w3"]))).toEqual(["e1-w1"]);
  });
});
