import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Clock } from "./clock.js";

/**
 * What a WorkQueue reports (client-go's queueMetrics): every add, every hand-out to a worker, every
 * done, and every delayed add (a retry). The default records nothing.
 */
export interface WorkQueueMetrics<K> {
  add(item: K): void;
  get(item: K): void;
  done(item: K): void;
  retry(): void;
  /** The queue stopped: the items it still held leave the depth, and it stops being sampled. */
  shutDown(): void;
}

/** The outcome of one reconcile, as controller-runtime's controller_runtime_reconcile_total names it. */
export type ReconcileResult = "success" | "error" | "requeue" | "requeue_after";

/** What a Controller reports (controller-runtime's pkg/internal/controller/metrics). */
export interface ReconcileMetrics {
  /** One reconcile finished, with its outcome and its duration in seconds. */
  reconciled(result: ReconcileResult, seconds: number, terminal: boolean): void;
  workerStarted(): void;
  workerStopped(): void;
  maxConcurrentReconciles(n: number): void;
}

export const noopQueueMetrics: WorkQueueMetrics<unknown> = {
  add() {},
  get() {},
  done() {},
  retry() {},
  shutDown() {},
};

export const noopReconcileMetrics: ReconcileMetrics = {
  reconciled() {},
  workerStarted() {},
  workerStopped() {},
  maxConcurrentReconciles() {},
};

/** client-go's workqueue buckets: 1 ns to 100 s, ×10 each (component-base's ExponentialBuckets(10e-9, 10, 12)). */
const QUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);
/** controller-runtime's reconcile_time_seconds buckets. */
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25,
  1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
const RESULTS: readonly ReconcileResult[] = ["success", "error", "requeue", "requeue_after"];

/**
 * The work queue and reconcile metrics of one process, under Kubernetes' and controller-runtime's
 * names, on one prom-client registry. Make it once per registry (prom-client refuses a name twice)
 * and hand it to every Controller; queues are told apart by their `name` label and controllers by
 * `controller`, so a new leadership term's controllers carry on the same series.
 */
export class ControllerMetrics {
  private readonly depth: Gauge<"name">;
  private readonly adds: Counter<"name">;
  private readonly retries: Counter<"name">;
  private readonly queueDuration: Histogram<"name">;
  private readonly workDuration: Histogram<"name">;
  private readonly reconcileTotal: Counter<"controller" | "result">;
  private readonly reconcileErrors: Counter<"controller">;
  private readonly terminalErrors: Counter<"controller">;
  private readonly reconcileTime: Histogram<"controller">;
  private readonly activeWorkers: Gauge<"controller">;
  private readonly maxConcurrent: Gauge<"controller">;
  /** Live queues, sampled for in-flight work when the registry is scraped. */
  private readonly queues = new Set<QueueMetricsRecorder<unknown>>();

  constructor(registry: Registry) {
    const registers = [registry];
    const queues = this.queues;
    this.depth = new Gauge({
      name: "workqueue_depth",
      help: "Current depth of workqueue",
      labelNames: ["name"],
      registers,
    });
    this.adds = new Counter({
      name: "workqueue_adds_total",
      help: "Total number of adds handled by workqueue",
      labelNames: ["name"],
      registers,
    });
    this.retries = new Counter({
      name: "workqueue_retries_total",
      help: "Total number of retries handled by workqueue",
      labelNames: ["name"],
      registers,
    });
    this.queueDuration = new Histogram({
      name: "workqueue_queue_duration_seconds",
      help: "How long in seconds an item stays in workqueue before being requested.",
      labelNames: ["name"],
      buckets: QUEUE_BUCKETS,
      registers,
    });
    this.workDuration = new Histogram({
      name: "workqueue_work_duration_seconds",
      help: "How long in seconds processing an item from workqueue takes.",
      labelNames: ["name"],
      buckets: QUEUE_BUCKETS,
      registers,
    });
    // Sampled at scrape time rather than by a timer per queue (client-go updates them every 500 ms).
    new Gauge({
      name: "workqueue_unfinished_work_seconds",
      help: "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
      labelNames: ["name"],
      registers,
      collect() {
        this.reset();
        for (const q of queues) this.set({ name: q.name }, q.unfinishedWorkSeconds());
      },
    });
    new Gauge({
      name: "workqueue_longest_running_processor_seconds",
      help: "How many seconds has the longest running processor for workqueue been running.",
      labelNames: ["name"],
      registers,
      collect() {
        this.reset();
        for (const q of queues) this.set({ name: q.name }, q.longestRunningProcessorSeconds());
      },
    });
    this.reconcileTotal = new Counter({
      name: "controller_runtime_reconcile_total",
      help: "Total number of reconciliations per controller",
      labelNames: ["controller", "result"],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: "controller_runtime_reconcile_errors_total",
      help: "Total number of reconciliation errors per controller",
      labelNames: ["controller"],
      registers,
    });
    this.terminalErrors = new Counter({
      name: "controller_runtime_terminal_reconcile_errors_total",
      help: "Total number of terminal reconciliation errors per controller",
      labelNames: ["controller"],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: "controller_runtime_reconcile_time_seconds",
      help: "Length of time per reconciliation per controller",
      labelNames: ["controller"],
      buckets: RECONCILE_BUCKETS,
      registers,
    });
    this.activeWorkers = new Gauge({
      name: "controller_runtime_active_workers",
      help: "Number of currently used workers per controller",
      labelNames: ["controller"],
      registers,
    });
    this.maxConcurrent = new Gauge({
      name: "controller_runtime_max_concurrent_reconciles",
      help: "Maximum number of concurrent reconciles per controller",
      labelNames: ["controller"],
      registers,
    });
  }

  /** The metrics of the work queue `name`, timed by clock. */
  queue<K>(name: string, clock: Clock): WorkQueueMetrics<K> {
    const q = new QueueMetricsRecorder<K>(name, clock, {
      depth: this.depth.labels({ name }),
      adds: this.adds.labels({ name }),
      retries: this.retries.labels({ name }),
      queueDuration: this.queueDuration.labels({ name }),
      workDuration: this.workDuration.labels({ name }),
      stopped: (r) => this.queues.delete(r as QueueMetricsRecorder<unknown>),
    });
    this.queues.add(q as QueueMetricsRecorder<unknown>);
    return q;
  }

  /** The reconcile metrics of the controller `name`; every result starts at 0, as controller-runtime's do. */
  reconciler(controller: string): ReconcileMetrics {
    for (const result of RESULTS) this.reconcileTotal.inc({ controller, result }, 0);
    this.reconcileErrors.inc({ controller }, 0);
    this.terminalErrors.inc({ controller }, 0);
    const total = this.reconcileTotal;
    const errors = this.reconcileErrors.labels({ controller });
    const terminal = this.terminalErrors.labels({ controller });
    const time = this.reconcileTime.labels({ controller });
    const active = this.activeWorkers.labels({ controller });
    const max = this.maxConcurrent.labels({ controller });
    return {
      reconciled(result, seconds, isTerminal) {
        total.inc({ controller, result });
        time.observe(seconds);
        if (result === "error") errors.inc();
        if (isTerminal) terminal.inc();
      },
      workerStarted: () => active.inc(),
      workerStopped: () => active.dec(),
      maxConcurrentReconciles: (n) => max.set(n),
    };
  }
}

/**
 * A component's controller metrics on its registry: call once per registry and pass the result as
 * `metrics` to Controller / ControllerBuilder (or a WorkQueue's metrics via `queue(name, clock)`).
 */
export function registerControllerMetrics(registry: Registry): ControllerMetrics {
  return new ControllerMetrics(registry);
}

interface QueueSeries {
  depth: { inc(): void; dec(n?: number): void };
  adds: { inc(): void };
  retries: { inc(): void };
  queueDuration: { observe(v: number): void };
  workDuration: { observe(v: number): void };
  stopped(r: unknown): void;
}

/** client-go's defaultQueueMetrics: add times for queue latency, start times for work in flight. */
class QueueMetricsRecorder<K> implements WorkQueueMetrics<K> {
  private readonly addTimes = new Map<K, number>();
  private readonly processingStartTimes = new Map<K, number>();
  /** This queue's share of the depth gauge, given back when it stops. */
  private depth = 0;

  constructor(
    readonly name: string,
    private readonly clock: Clock,
    private readonly series: QueueSeries,
  ) {}

  add(item: K): void {
    this.series.adds.inc();
    this.series.depth.inc();
    this.depth++;
    if (!this.addTimes.has(item)) this.addTimes.set(item, this.clock.now());
  }

  get(item: K): void {
    this.series.depth.dec();
    this.depth--;
    const now = this.clock.now();
    this.processingStartTimes.set(item, now);
    const added = this.addTimes.get(item);
    if (added !== undefined) {
      this.series.queueDuration.observe((now - added) / 1000);
      this.addTimes.delete(item);
    }
  }

  done(item: K): void {
    const started = this.processingStartTimes.get(item);
    if (started === undefined) return;
    this.series.workDuration.observe((this.clock.now() - started) / 1000);
    this.processingStartTimes.delete(item);
  }

  retry(): void {
    this.series.retries.inc();
  }

  shutDown(): void {
    if (this.depth > 0) this.series.depth.dec(this.depth);
    this.depth = 0;
    this.addTimes.clear();
    this.processingStartTimes.clear();
    this.series.stopped(this);
  }

  unfinishedWorkSeconds(): number {
    const now = this.clock.now();
    let total = 0;
    for (const t of this.processingStartTimes.values()) total += now - t;
    return total / 1000;
  }

  longestRunningProcessorSeconds(): number {
    const now = this.clock.now();
    let oldest = now;
    for (const t of this.processingStartTimes.values()) oldest = Math.min(oldest, t);
    return (now - oldest) / 1000;
  }
}
