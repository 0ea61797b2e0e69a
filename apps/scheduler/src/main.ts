import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { createClient } from "@tskube/client";
import { EventRecorder, LeaderElector } from "@tskube/controller";
import { readFlags, startHttp } from "@tskube/grpc";
import { componentLogger } from "@tskube/log";
import {
  parseDuration,
  type TimingRecord,
  timingAnnotations,
  timingFlags,
  timingRecord,
  withTimingProfile,
} from "@tskube/machinery";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import { DEFAULT_FILTERS, DEFAULT_SCORES } from "./plugins/index.js";
import { Scheduler } from "./scheduler.js";

/** Every flag has a TSKUBE_* environment variable; the flag wins. Defaults are Kubernetes'. */
const FLAGS = {
  server: { env: "TSKUBE_SERVER", default: "127.0.0.1:6443" },
  "scheduler-name": { env: "TSKUBE_SCHEDULER_NAME", default: "default-scheduler" },
  "http-address": { env: "TSKUBE_HTTP_ADDRESS", default: "0.0.0.0:10259" },
  "leader-elect": { env: "TSKUBE_LEADER_ELECT", default: "true" },
  // --timing-profile and the leader-election timers (15s/10s/2s upstream, 4s/3s/1s fast).
  ...timingFlags("scheduler"),
  "pod-initial-backoff": { env: "TSKUBE_POD_INITIAL_BACKOFF", default: "1s" },
  "pod-max-backoff": { env: "TSKUBE_POD_MAX_BACKOFF", default: "10s" },
  // KubeSchedulerConfiguration's percentageOfNodesToScore: 0 is adaptive (50% - nodes/125, at least 5%).
  "percentage-of-nodes-to-score": { env: "TSKUBE_PERCENTAGE_OF_NODES_TO_SCORE", default: "0" },
  // 0: an assumed pod waits for its binding to be observed (Kubernetes' durationToExpireAssumedPod).
  "assumed-pod-ttl": { env: "TSKUBE_ASSUMED_POD_TTL", default: "0s" },
  // Kubernetes binds each pod in its own goroutine; this bounds the binding writes in flight.
  "max-bindings-in-flight": { env: "TSKUBE_MAX_BINDINGS_IN_FLIGHT", default: "256" },
  id: { env: "TSKUBE_ID", default: `${hostname()}_${randomUUID()}` },
} as const;
type Flag = keyof typeof FLAGS;

/** A flag's value as Kubernetes prints it in an Invalid error: numbers bare, anything else quoted. */
const printed = (v: string) => (v.trim() !== "" && Number.isFinite(Number(v)) ? v : JSON.stringify(v));

/** An integer from 0 to 100, worded as the config validation words it. */
function percentageOfNodesToScore(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 100)
    throw new Error(`percentageOfNodesToScore: Invalid value: ${printed(v)}: not in valid range [0-100]`);
  return n;
}

function maxBindingsInFlight(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1)
    throw new Error(
      `max-bindings-in-flight: Invalid value: ${printed(v)}: must be greater than or equal to 1`,
    );
  return n;
}

async function main(): Promise<void> {
  const log = componentLogger("scheduler");
  let flags: Record<Flag, string>;
  let timing: TimingRecord;
  try {
    const { spec, profile } = withTimingProfile("scheduler", FLAGS);
    flags = readFlags("scheduler", spec);
    timing = timingRecord("scheduler", profile, flags);
    for (const d of [
      "leader-elect-lease-duration",
      "leader-elect-renew-deadline",
      "leader-elect-retry-period",
      "pod-initial-backoff",
      "pod-max-backoff",
      "assumed-pod-ttl",
    ] as const) {
      parseDuration(flags[d]);
    }
    percentageOfNodesToScore(flags["percentage-of-nodes-to-score"]);
    maxBindingsInFlight(flags["max-bindings-in-flight"]);
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    process.exit(2);
  }
  log.info({ flags }, "starting scheduler");
  const client = createClient({ servers: flags.server.split(","), userAgent: "scheduler" });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = {
    attempts: new Counter({
      name: "scheduler_schedule_attempts_total",
      help: "Scheduling attempts by result.",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: "scheduler_scheduling_attempt_duration_seconds",
      help: "Scheduling attempt latency.",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    extensionPoint: new Histogram({
      name: "scheduler_framework_extension_point_duration_seconds",
      help: "Latency for running all plugins of a specific extension point.",
      labelNames: ["extension_point", "status"] as const,
      buckets: [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers: [registry],
    }),
  };
  let leading = false;
  const http = await startHttp({
    address: flags["http-address"],
    log,
    metrics: registry,
    checks: { live: async () => undefined, ready: async () => undefined },
  });
  const stop = new AbortController();
  const recorder = new EventRecorder({
    events: client.resource("events"),
    component: flags["scheduler-name"],
    host: hostname(),
    log,
  });
  const schedule = (signal: AbortSignal) =>
    new Scheduler({
      client,
      schedulerName: flags["scheduler-name"],
      recorder,
      log,
      filters: DEFAULT_FILTERS,
      scores: DEFAULT_SCORES,
      initialBackoffMs: parseDuration(flags["pod-initial-backoff"]),
      maxBackoffMs: parseDuration(flags["pod-max-backoff"]),
      percentageOfNodesToScore: percentageOfNodesToScore(flags["percentage-of-nodes-to-score"]),
      assumedPodTtlMs: parseDuration(flags["assumed-pod-ttl"]),
      maxBindingsInFlight: maxBindingsInFlight(flags["max-bindings-in-flight"]),
      metrics,
    }).run(signal);
  const shutdown = (signal: string) => {
    log.info({ signal, leading }, "shutting down");
    stop.abort();
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  if (flags["leader-elect"] === "false") {
    leading = true;
    await schedule(stop.signal);
  } else {
    // A leader that loses its lease stops scheduling and campaigns again, as kube-scheduler restarts.
    while (!stop.signal.aborted) {
      await new LeaderElector({
        leases: client.resource("leases"),
        name: "kube-scheduler",
        identity: flags.id,
        // What `ktl explain timing` reads back: this scheduler's profile and timers.
        annotations: timingAnnotations(timing),
        leaseDurationMs: parseDuration(flags["leader-elect-lease-duration"]),
        renewDeadlineMs: parseDuration(flags["leader-elect-renew-deadline"]),
        retryPeriodMs: parseDuration(flags["leader-elect-retry-period"]),
        log,
        onStartedLeading: (signal) => {
          leading = true;
          return schedule(signal);
        },
        onStoppedLeading: () => {
          leading = false;
          log.info("stopped leading");
        },
      }).run(stop.signal);
    }
  }
  http.close();
  client.close();
  process.exit(0);
}

main().catch((err) => {
  componentLogger("scheduler").fatal({ err }, "scheduler failed");
  process.exit(1);
});
