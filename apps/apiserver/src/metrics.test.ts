import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createMetrics, LeanHistogram } from "./metrics.js";

describe("apiserver metrics", () => {
  it("counts requests by verb, resource and code on every read, as prom-client's counter", async () => {
    const m = createMetrics();
    for (let i = 0; i < 3; i++) m.requests.inc({ verb: "create", resource: "pods", code: "OK" });
    m.requests.inc({ verb: "create", resource: "pods", code: "ALREADY_EXISTS" });
    const text = await m.registry.metrics();
    expect(text).toContain('apiserver_request_total{verb="create",resource="pods",code="OK"} 3');
    expect(text).toContain('apiserver_request_total{verb="create",resource="pods",code="ALREADY_EXISTS"} 1');
    // Counts read once are not added again; new ones are.
    m.requests.inc({ verb: "create", resource: "pods", code: "OK" });
    const again = await m.registry.metrics();
    expect(again).toContain('apiserver_request_total{verb="create",resource="pods",code="OK"} 4');
    const values = (await m.requests.counter.get()).values;
    expect(values.find((v) => v.labels.code === "ALREADY_EXISTS")?.value).toBe(1);
  });

  it("renders a LeanHistogram exactly as prom-client renders its Histogram for the same observations", async () => {
    const buckets = [0.001, 0.01, 0.1, 1];
    const ours = new Registry();
    const theirs = new Registry();
    const lean = new LeanHistogram(ours, "x_seconds", "help text", ["verb", "resource"] as const, buckets);
    const prom = new Histogram({
      name: "x_seconds",
      help: "help text",
      labelNames: ["verb", "resource"] as const,
      buckets,
      registers: [theirs],
    });
    const seen: [string, string, number][] = [
      ["create", "pods", 0.0005],
      ["create", "pods", 0.001],
      ["create", "pods", 0.05],
      ["get", "pods", 3],
      ["create", "services", 0.2],
    ];
    for (const [verb, resource, v] of seen) {
      lean.observe({ verb, resource }, v);
      prom.observe({ verb, resource }, v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    const end = lean.startTimer({ verb: "list", resource: "pods" });
    end();
    expect(await ours.metrics()).toContain('x_seconds_count{verb="list",resource="pods"} 1');
  });
});
