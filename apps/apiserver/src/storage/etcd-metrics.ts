import { Counter, type Registry } from "prom-client";
import type { EtcdKv, EtcdOperation } from "./etcd-kv.js";

/**
 * etcd_requests_total{operation}: every call EtcdKv makes (range, txn, compact, leaseGrant), each
 * one round trip to a member. Read off EtcdKv's plain counters when scraped, so the write path pays
 * no label hashing; the ratio to apiserver_request_total gives round trips per request.
 */
export function registerEtcdRequestMetric(registry: Registry, kv: EtcdKv): Counter<"operation"> {
  return new Counter({
    name: "etcd_requests_total",
    help: "etcd calls made by the apiserver (one round trip each), by operation.",
    labelNames: ["operation"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [operation, n] of Object.entries(kv.requests) as [EtcdOperation, number][])
        this.inc({ operation }, n);
    },
  });
}
