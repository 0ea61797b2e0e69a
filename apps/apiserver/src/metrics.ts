import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** The apiserver's Prometheus metrics, named as Kubernetes names its own. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: "apiserver_request_total",
      help: "API requests by verb, resource and gRPC code.",
      labelNames: ["verb", "resource", "code"] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: "apiserver_request_duration_seconds",
      help: "API request latency by verb and resource (watches excluded).",
      labelNames: ["verb", "resource"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    watchers: new Gauge({
      name: "apiserver_registered_watchers",
      help: "Open watch streams by resource.",
      labelNames: ["resource"] as const,
      registers: [registry],
    }),
    etcdLatency: new Histogram({
      name: "etcd_request_duration_seconds",
      help: "etcd request latency by operation.",
      labelNames: ["operation"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
