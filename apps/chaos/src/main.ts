import { setMaxListeners } from "node:events";
import type { Deployment, Experiment, Lease, Node, Pod, ReplicaSet } from "@tskube/api";
import { createClient } from "@tskube/client";
import { realClock, SharedInformerFactory } from "@tskube/controller";
import { readFlags, startHttp } from "@tskube/grpc";
import { componentLogger } from "@tskube/log";
import { parseDuration } from "@tskube/machinery";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { ExperimentController } from "./controller.js";
import { DockerExecutor } from "./executors/docker.js";
import { ProcessExecutor } from "./executors/process.js";
import type { Executor } from "./executors/types.js";
import { Runner } from "./runner.js";

/** Every flag has a TSKUBE_* environment variable; the flag wins. */
const FLAGS = {
  server: { env: "TSKUBE_SERVER", default: "127.0.0.1:6443" },
  "http-address": { env: "TSKUBE_HTTP_ADDRESS", default: "0.0.0.0:10270" },
  // docker: compose services and pod containers through the Engine; process: pnpm local-up.
  executor: { env: "TSKUBE_CHAOS_EXECUTOR", default: "docker" },
  "docker-socket": { env: "TSKUBE_DOCKER_SOCKET", default: "/var/run/docker.sock" },
  // Empty: the project of the container the controller runs in.
  "compose-project": { env: "TSKUBE_COMPOSE_PROJECT", default: "" },
  "cluster-name": { env: "TSKUBE_CLUSTER_NAME", default: "tskube" },
  "etcd-endpoint": { env: "TSKUBE_CHAOS_ETCD_ENDPOINT", default: "http://127.0.0.1:2379" },
  "local-up-state": { env: "TSKUBE_LOCAL_UP_STATE", default: ".local/local-up.json" },
  "workload-image": { env: "TSKUBE_WORKLOAD_IMAGE", default: "busybox:1.36" },
  "writes-namespace": { env: "TSKUBE_CHAOS_WRITES_NAMESPACE", default: "chaos-writes" },
  "writes-per-second": { env: "TSKUBE_CHAOS_WRITES_PER_SECOND", default: "10" },
  "request-timeout": { env: "TSKUBE_CHAOS_REQUEST_TIMEOUT", default: "1s" },
  // A write not acknowledged within this counts as rejected (the API client's own deadline).
  "write-timeout": { env: "TSKUBE_CHAOS_WRITE_TIMEOUT", default: "5s" },
  "settle-timeout": { env: "TSKUBE_CHAOS_SETTLE_TIMEOUT", default: "90s" },
  "lead-time": { env: "TSKUBE_CHAOS_LEAD_TIME", default: "3s" },
  // Empty: each Ready node's InternalIP; 127.0.0.1 for pnpm local-up.
  "node-port-address": { env: "TSKUBE_CHAOS_NODE_PORT_ADDRESS", default: "" },
  "sample-interval": { env: "TSKUBE_CHAOS_SAMPLE_INTERVAL", default: "1s" },
  "scheduler-lease": { env: "TSKUBE_CHAOS_SCHEDULER_LEASE", default: "kube-system/kube-scheduler" },
  "controller-manager-lease": {
    env: "TSKUBE_CHAOS_CONTROLLER_MANAGER_LEASE",
    default: "kube-system/kube-controller-manager",
  },
} as const;

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`${name}: Invalid value: ${JSON.stringify(v)}: must be greater than 0`);
  return n;
}

async function main(): Promise<void> {
  const log = componentLogger("chaos");
  let flags: Record<keyof typeof FLAGS, string>;
  let executor: Executor;
  let opts: ConstructorParameters<typeof Runner>[5];
  try {
    flags = readFlags("chaos", FLAGS);
    opts = {
      workloadImage: flags["workload-image"],
      writesNamespace: flags["writes-namespace"],
      writesPerSecond: positive("writes-per-second", flags["writes-per-second"]),
      requestTimeoutMs: parseDuration(flags["request-timeout"]),
      writeTimeoutMs: parseDuration(flags["write-timeout"]),
      settleTimeoutMs: parseDuration(flags["settle-timeout"]),
      leadMs: parseDuration(flags["lead-time"]),
      sampleIntervalMs: parseDuration(flags["sample-interval"]),
      nodePortAddress: flags["node-port-address"],
      schedulerLease: flags["scheduler-lease"],
      controllerManagerLease: flags["controller-manager-lease"],
    };
    if (flags.executor === "docker")
      executor = new DockerExecutor({
        project: flags["compose-project"],
        clusterName: flags["cluster-name"],
        socketPath: flags["docker-socket"],
        etcdEndpoint: flags["etcd-endpoint"],
      });
    else if (flags.executor === "process") executor = new ProcessExecutor(flags["local-up-state"]);
    else
      throw new Error(
        `executor: Unsupported value: "${flags.executor}": supported values: "docker", "process"`,
      );
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    process.exit(2);
  }
  log.info({ flags }, "starting chaos controller");
  const client = createClient({ servers: flags.server.split(","), userAgent: "chaos" });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const factory = new SharedInformerFactory(client, { log });
  const informers = {
    pods: factory.informerFor<Pod>("pods"),
    nodes: factory.informerFor<Node>("nodes"),
    leases: factory.informerFor<Lease>("leases"),
    deployments: factory.informerFor<Deployment>("deployments"),
    replicasets: factory.informerFor<ReplicaSet>("replicasets"),
  };
  const experiments = factory.informerFor<Experiment>("experiments");
  const writeClient = createClient({
    servers: flags.server.split(","),
    userAgent: "chaos-writes",
    timeoutMs: opts.writeTimeoutMs,
  });
  const runner = new Runner(client, executor, informers, realClock, log, { ...opts, writeClient });
  const controller = new ExperimentController(client, experiments, runner, log);
  new Gauge({
    name: "chaos_experiment_running",
    help: "1 while an experiment runs.",
    registers: [registry],
    collect() {
      this.set(controller.running ? 1 : 0);
    },
  });
  const stop = new AbortController();
  // Six informers, the controller loop and a run all listen for the one shutdown signal.
  setMaxListeners(50, stop.signal);
  const http = await startHttp({
    address: flags["http-address"],
    log,
    metrics: registry,
    checks: {
      live: async () => undefined,
      ready: async () => {
        for (const [name, i] of Object.entries({ ...informers, experiments }))
          if (!i.hasSynced()) return `informer ${name} not synced`;
        return undefined;
      },
    },
  });
  const shutdown = (signal: string) => {
    log.info({ signal, running: controller.running }, "shutting down");
    stop.abort();
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  factory.start(stop.signal);
  await factory.waitForCacheSync(stop.signal);
  await controller.run(stop.signal);
  http.close();
  executor.close();
  client.close();
  writeClient.close();
  process.exit(0);
}

main().catch((err) => {
  componentLogger("chaos").fatal({ err }, "chaos controller failed");
  process.exit(1);
});
