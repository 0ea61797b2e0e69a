import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { createClient } from "@tskube/client";
import {
  EventRecorder,
  LeaderElector,
  realClock,
  registerControllerMetrics,
  SharedInformerFactory,
} from "@tskube/controller";
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
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { ControllerContext } from "./context.js";
import {
  type ControllerSettings,
  enabledControllers,
  KNOWN_CONTROLLERS,
  type Workers,
} from "./controllers.js";
import { controllerManagerIndexers } from "./indexers.js";
import { NODE_LIFECYCLE_FLAGS, nodeLifecycleOptions } from "./nodelifecycle/flags.js";
import { parseIpPool } from "./servicelb/ip-pool.js";

/** Every flag has a TSKUBE_* environment variable; the flag wins. Defaults are kube-controller-manager's. */
const FLAGS = {
  server: { env: "TSKUBE_SERVER", default: "127.0.0.1:6443" },
  controllers: { env: "TSKUBE_CONTROLLERS", default: "*" },
  "http-address": { env: "TSKUBE_HTTP_ADDRESS", default: "0.0.0.0:10257" },
  "leader-elect": { env: "TSKUBE_LEADER_ELECT", default: "true" },
  // --timing-profile, the leader-election and node lifecycle timers (see @tskube/machinery's timing).
  ...timingFlags("controller-manager"),
  "leader-elect-resource-name": {
    env: "TSKUBE_LEADER_ELECT_RESOURCE_NAME",
    default: "kube-controller-manager",
  },
  "leader-elect-resource-namespace": {
    env: "TSKUBE_LEADER_ELECT_RESOURCE_NAMESPACE",
    default: "kube-system",
  },
  "concurrent-replicaset-syncs": { env: "TSKUBE_CONCURRENT_REPLICASET_SYNCS", default: "5" },
  "concurrent-deployment-syncs": { env: "TSKUBE_CONCURRENT_DEPLOYMENT_SYNCS", default: "5" },
  "concurrent-gc-syncs": { env: "TSKUBE_CONCURRENT_GC_SYNCS", default: "20" },
  "concurrent-namespace-syncs": { env: "TSKUBE_CONCURRENT_NAMESPACE_SYNCS", default: "10" },
  "concurrent-endpoint-syncs": { env: "TSKUBE_CONCURRENT_ENDPOINT_SYNCS", default: "5" },
  "concurrent-service-syncs": { env: "TSKUBE_CONCURRENT_SERVICE_SYNCS", default: "1" },
  "load-balancer-ip-pool": { env: "TSKUBE_LOAD_BALANCER_IP_POOL", default: "" },
  ...NODE_LIFECYCLE_FLAGS,
  "request-timeout": { env: "TSKUBE_REQUEST_TIMEOUT", default: "30s" },
  id: { env: "TSKUBE_ID", default: `${hostname()}_${randomUUID()}` },
} as const;
type Flag = keyof typeof FLAGS;

function positiveInt(flags: Record<Flag, string>, name: Flag): number {
  const v = flags[name];
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new Error(`--${name}: Invalid value: "${v}": must be a positive integer`);
  return Number(v);
}

async function main(): Promise<void> {
  const log = componentLogger("controller-manager");
  let flags: Record<Flag, string>;
  let controllers: string[];
  let workers: Workers;
  let settings: ControllerSettings;
  let timing: TimingRecord;
  try {
    const { spec, profile } = withTimingProfile("controller-manager", FLAGS);
    flags = readFlags("controller-manager", spec);
    timing = timingRecord("controller-manager", profile, flags);
    for (const d of [
      "leader-elect-lease-duration",
      "leader-elect-renew-deadline",
      "leader-elect-retry-period",
      "request-timeout",
    ] as const) {
      parseDuration(flags[d]);
    }
    controllers = enabledControllers(flags.controllers);
    workers = {
      replicaset: positiveInt(flags, "concurrent-replicaset-syncs"),
      deployment: positiveInt(flags, "concurrent-deployment-syncs"),
      garbagecollector: positiveInt(flags, "concurrent-gc-syncs"),
      namespace: positiveInt(flags, "concurrent-namespace-syncs"),
      endpoint: positiveInt(flags, "concurrent-endpoint-syncs"),
      service: positiveInt(flags, "concurrent-service-syncs"),
    };
    settings = {
      nodeLifecycle: nodeLifecycleOptions(flags),
      loadBalancerIpPool: parseIpPool(flags["load-balancer-ip-pool"]),
    };
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    process.exit(2);
  }
  log.info({ flags, controllers }, "starting controller-manager");
  const client = createClient({
    servers: flags.server.split(","),
    userAgent: "kube-controller-manager",
    timeoutMs: parseDuration(flags["request-timeout"]),
  });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Once for the process: every leadership term's controllers carry on the same series.
  const metrics = registerControllerMetrics(registry);
  const leaderGauge = new Gauge({
    name: "leader_election_master_status",
    help: "1 while this instance holds the controller-manager Lease.",
    labelNames: ["name"] as const,
    registers: [registry],
  });
  const http = await startHttp({
    address: flags["http-address"],
    log,
    metrics: registry,
    checks: { live: async () => undefined, ready: async () => undefined },
  });
  const stop = new AbortController();
  const host = hostname();

  /**
   * One leadership term: fresh informers and controllers, all stopped by the term's signal. A
   * new term starts from a fresh list instead of a cache that went stale while not leading.
   */
  const lead = async (signal: AbortSignal) => {
    const ctx: ControllerContext = {
      client,
      informers: new SharedInformerFactory(client, { log, indexers: controllerManagerIndexers }),
      recorder: (component) => new EventRecorder({ events: client.resource("events"), component, host, log }),
      clock: realClock,
      log,
      metrics,
    };
    const running = controllers.map((name) => {
      const c = KNOWN_CONTROLLERS[name]!(ctx, workers, settings);
      log.info({ controller: name }, "started controller");
      return c;
    });
    ctx.informers.start(signal);
    await Promise.all(running.map((c) => c.run(signal)));
  };

  const shutdown = (signal: string) => {
    log.info({ signal }, "shutting down");
    stop.abort();
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  const leaseName = flags["leader-elect-resource-name"];
  if (flags["leader-elect"] === "false") {
    leaderGauge.set({ name: leaseName }, 1);
    await lead(stop.signal);
  } else {
    // A leader that loses its lease stops every controller and campaigns again.
    while (!stop.signal.aborted) {
      await new LeaderElector({
        leases: client.resource("leases"),
        namespace: flags["leader-elect-resource-namespace"],
        name: leaseName,
        identity: flags.id,
        // What `ktl explain timing` reads back: this controller-manager's profile and timers.
        annotations: timingAnnotations(timing),
        leaseDurationMs: parseDuration(flags["leader-elect-lease-duration"]),
        renewDeadlineMs: parseDuration(flags["leader-elect-renew-deadline"]),
        retryPeriodMs: parseDuration(flags["leader-elect-retry-period"]),
        log,
        onStartedLeading: (signal) => {
          leaderGauge.set({ name: leaseName }, 1);
          log.info({ identity: flags.id }, "became leader");
          return lead(signal);
        },
        onStoppedLeading: () => {
          leaderGauge.set({ name: leaseName }, 0);
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
  componentLogger("controller-manager").fatal({ err }, "controller-manager failed");
  process.exit(1);
});
