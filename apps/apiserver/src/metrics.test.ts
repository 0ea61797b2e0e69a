import { describe, expect, it } from "vitest";
import { createMetrics } from "./metrics.js";

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
});
