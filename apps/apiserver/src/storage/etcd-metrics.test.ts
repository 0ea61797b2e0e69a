import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { EtcdKv } from "./etcd-kv.js";
import { registerEtcdRequestMetric } from "./etcd-metrics.js";

describe("etcd_requests_total", () => {
  it("reports EtcdKv's call counters by operation when scraped", async () => {
    const registry = new Registry();
    const kv = { requests: { range: 2, txn: 5, compact: 0, leaseGrant: 1 } } as unknown as EtcdKv;
    registerEtcdRequestMetric(registry, kv);
    kv.requests.txn += 3;
    const text = await registry.metrics();
    expect(text).toContain('etcd_requests_total{operation="txn"} 8');
    expect(text).toContain('etcd_requests_total{operation="range"} 2');
    expect(text).toContain('etcd_requests_total{operation="leaseGrant"} 1');
    // Scraping twice does not add the totals up again.
    expect(await registry.metrics()).toContain('etcd_requests_total{operation="txn"} 8');
  });
});
