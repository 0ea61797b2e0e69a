import { performance } from "node:perf_hooks";
import { Counter, collectDefaultMetrics, Gauge, type MetricValue, Registry } from "prom-client";

/** The apiserver's Prometheus metrics, named as Kubernetes names its own. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: requestCounter(registry),
    latency: new LeanHistogram(
      registry,
      "apiserver_request_duration_seconds",
      "API request latency by verb and resource (watches excluded).",
      ["verb", "resource"] as const,
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
    watchers: new Gauge({
      name: "apiserver_registered_watchers",
      help: "Open watch streams by resource.",
      labelNames: ["resource"] as const,
      registers: [registry],
    }),
    etcdLatency: new LeanHistogram(
      registry,
      "etcd_request_duration_seconds",
      "etcd request latency by operation.",
      ["operation"] as const,
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    ),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

interface RequestLabels {
  verb: string;
  resource: string;
  code: string;
}

/**
 * apiserver_request_total, tallied in a plain map on the request path and added to the prom-client
 * counter whenever it is read (scrape or get()): prom-client's inc builds a sorted hash of the label
 * object on every call, about 1 % of the apiserver's CPU per create.
 */
function requestCounter(registry: Registry) {
  const pending = new Map<string, { labels: RequestLabels; n: number }>();
  const counter = new Counter({
    name: "apiserver_request_total",
    help: "API requests by verb, resource and gRPC code.",
    labelNames: ["verb", "resource", "code"] as const,
    registers: [registry],
    collect() {
      for (const p of pending.values()) {
        if (p.n === 0) continue;
        this.inc(p.labels, p.n);
        p.n = 0;
      }
    },
  });
  return {
    counter,
    inc(labels: RequestLabels): void {
      const key = `${labels.verb}\0${labels.resource}\0${labels.code}`;
      const p = pending.get(key);
      if (p) p.n++;
      else
        pending.set(key, {
          labels: { verb: labels.verb, resource: labels.resource, code: labels.code },
          n: 1,
        });
    },
  };
}

interface Series<L extends string> {
  labels: Record<L, string>;
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram kept in plain arrays and rendered by prom-client's registry when scraped.
 * prom-client's Histogram hashes the label object and searches its buckets on every observation,
 * which a request path that observes twice per call (API and etcd latency) pays on every create.
 */
export class LeanHistogram<L extends string> {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, Series<L>>();

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    private readonly buckets: readonly number[],
  ) {
    registry.registerMetric(this as never);
  }

  /** Starts timing; the function returned observes the seconds elapsed. */
  startTimer(labels: Record<L, string>): () => void {
    const start = performance.now();
    return () => this.observe(labels, (performance.now() - start) / 1000);
  }

  observe(labels: Record<L, string>, seconds: number): void {
    let key = "";
    for (const n of this.labelNames) key += `${labels[n]}\0`;
    let s = this.series.get(key);
    if (!s) {
      const own = {} as Record<L, string>;
      for (const n of this.labelNames) own[n] = labels[n];
      s = { labels: own, counts: new Array(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    let i = 0;
    while (i < this.buckets.length && seconds > this.buckets[i]!) i++;
    s.counts[i]!++;
    s.sum += seconds;
    s.count++;
  }

  /** prom-client's metric shape: cumulative _bucket lines with le, then _sum and _count. */
  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: MetricValue<string>[];
  }> {
    const values: MetricValue<string>[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { le, ...s.labels },
          value: cumulative,
        } as never);
      });
      values.push({
        metricName: `${this.name}_bucket`,
        labels: { le: "+Inf", ...s.labels },
        value: s.count,
      } as never);
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum } as never);
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count } as never);
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}
