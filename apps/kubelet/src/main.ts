import { isIP } from "node:net";
import { cpus, hostname, networkInterfaces, totalmem } from "node:os";
import { resolve } from "node:path";
import { PodServiceService } from "@tskube/api";
import { createClient } from "@tskube/client";
import { EventRecorder, registerControllerMetrics } from "@tskube/controller";
import { createServer, readFlags, startHttp } from "@tskube/grpc";
import { componentLogger } from "@tskube/log";
import {
  isDNS1123Subdomain,
  isValidCIDR,
  parseDuration,
  type TimingRecord,
  timingAnnotations,
  timingFlags,
  timingRecord,
  withTimingProfile,
} from "@tskube/machinery";
import { collectDefaultMetrics, Registry } from "prom-client";
import { Kubelet } from "./kubelet.js";
import { NodeAgent } from "./node-agent.js";
import { createPodService } from "./pod-server.js";
import { DockerRuntime } from "./runtime/docker.js";
import { FakeRuntime } from "./runtime/fake.js";
import { ProcessRuntime } from "./runtime/process.js";
import { resolveIsolation } from "./runtime/process-isolation.js";
import type { Runtime } from "./runtime/types.js";

/** Every flag has a TSKUBE_* environment variable; the flag wins. Defaults are Kubernetes'. */
const FLAGS = {
  server: { env: "TSKUBE_SERVER", default: "127.0.0.1:6443" },
  "node-name": { env: "TSKUBE_NODE_NAME", default: hostname() },
  // Empty: 127.0.0.1 with the process and fake runtimes (the pod bridge's gateway when the process
  // runtime isolates pods, so they reach their node), this host's first address with docker.
  "node-ip": { env: "TSKUBE_NODE_IP", default: "" },
  "cluster-name": { env: "TSKUBE_CLUSTER_NAME", default: "tskube" },
  "pod-cidr": { env: "TSKUBE_POD_CIDR", default: "127.1.0.0/16" },
  "node-labels": { env: "TSKUBE_NODE_LABELS", default: "" },
  runtime: { env: "TSKUBE_RUNTIME", default: "process" },
  "root-dir": { env: "TSKUBE_ROOT_DIR", default: ".local/kubelet" },
  cpu: { env: "TSKUBE_NODE_CPU", default: String(cpus().length) },
  memory: { env: "TSKUBE_NODE_MEMORY", default: `${Math.floor(totalmem() / 1024 / 1024)}Mi` },
  "max-pods": { env: "TSKUBE_MAX_PODS", default: "110" },
  "http-address": { env: "TSKUBE_HTTP_ADDRESS", default: "0.0.0.0:10248" },
  // Kubernetes' kubelet serves on 0.0.0.0; with no authentication yet, logs and exec are served
  // only on the address the apiserver is told to use (the node IP) unless asked otherwise.
  address: { env: "TSKUBE_KUBELET_ADDRESS", default: "" },
  port: { env: "TSKUBE_KUBELET_PORT", default: "10250" },
  // --timing-profile and the recovery timers: node Lease and status, restart and image pull backoff.
  ...timingFlags("kubelet"),
  "pleg-relist-period": { env: "TSKUBE_PLEG_RELIST_PERIOD", default: "1s" },
  "fake-start-delay": { env: "TSKUBE_FAKE_START_DELAY", default: "0s" },
  "docker-network": { env: "TSKUBE_DOCKER_NETWORK", default: "bridge" },
  "sandbox-image": { env: "TSKUBE_SANDBOX_IMAGE", default: "busybox:1.36" },
  // Not a Kubernetes kubelet flag (there the CNI plugin routes pods): the docker runtime gives every
  // sandbox a route for this range (the apiserver's --service-cluster-ip-range) via this node, whose
  // kube-proxy DNATs it. Empty: no route.
  "service-cluster-ip-range": { env: "TSKUBE_SERVICE_CLUSTER_IP_RANGE", default: "" },
  // The process runtime as root: auto isolates pods (namespaces + cgroups) when root and a
  // non-loopback pod CIDR allow it; namespaces insists (an error says what is missing); none never.
  "process-isolation": { env: "TSKUBE_PROCESS_ISOLATION", default: "auto" },
  "cpu-cfs-quota-period": { env: "TSKUBE_CPU_CFS_QUOTA_PERIOD", default: "100ms" },
  // Comma-separated cluster DNS addresses for ClusterFirst pods' resolv.conf (port 53; empty: the
  // pods fall back to Default and get a MissingClusterDNS event).
  "cluster-dns": { env: "TSKUBE_CLUSTER_DNS", default: "" },
  "cluster-domain": { env: "TSKUBE_CLUSTER_DOMAIN", default: "cluster.local" },
  // What dnsPolicy Default copies, and where ClusterFirst's extra search domains come from.
  "resolv-conf": { env: "TSKUBE_RESOLV_CONF", default: "/etc/resolv.conf" },
} as const;
type Flag = keyof typeof FLAGS;

/** The first non-loopback IPv4 address: where the apiserver reaches a kubelet in a container. */
function firstAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}

function processRuntime(flags: Record<Flag, string>): ProcessRuntime {
  const periodMs = parseDuration(flags["cpu-cfs-quota-period"]);
  if (!(periodMs >= 1 && periodMs <= 1000))
    throw new Error(
      `--cpu-cfs-quota-period: Invalid value: "${flags["cpu-cfs-quota-period"]}": must be between 1ms and 1s`,
    );
  const { mode, reason } = resolveIsolation(flags["process-isolation"], flags["pod-cidr"]);
  return new ProcessRuntime(resolve(flags["root-dir"], flags["node-name"]), flags["pod-cidr"], {
    nodeName: flags["node-name"],
    isolation: mode,
    isolationReason: reason,
    cfsPeriodUs: Math.round(periodMs * 1000),
  });
}

/** A duration flag that must be above zero, refused with its name at start. */
function durationFlag(flags: Record<Flag, string>, name: Flag): number {
  let ms: number;
  try {
    ms = parseDuration(flags[name]);
  } catch {
    throw new Error(`--${name}: Invalid value: "${flags[name]}": must be a duration such as 10s or 1m`);
  }
  if (ms <= 0) throw new Error(`--${name}: Invalid value: "${flags[name]}": must be greater than 0`);
  return ms;
}

/** --node-lease-duration-seconds: a positive whole number (the Lease's leaseDurationSeconds). */
function leaseDurationSeconds(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new Error(`--node-lease-duration-seconds: Invalid value: "${v}": must be a positive integer`);
  return Number(v);
}

/** --cluster-dns and --cluster-domain, checked as the kubelet's configuration validation checks them. */
function clusterDns(flags: Record<Flag, string>) {
  const servers = flags["cluster-dns"]
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of servers)
    if (isIP(s) === 0) throw new Error(`--cluster-dns: Invalid value: "${s}": must be a valid IP address`);
  const domain = flags["cluster-domain"].replace(/\.$/, "");
  const errs = isDNS1123Subdomain(domain);
  if (errs.length)
    throw new Error(`--cluster-domain: Invalid value: "${flags["cluster-domain"]}": ${errs.join("; ")}`);
  return { clusterDns: servers, clusterDomain: domain, resolvConf: flags["resolv-conf"] };
}

/** --service-cluster-ip-range: "" or an IPv4 CIDR (the sandbox route is an IPv4 route). */
function serviceClusterIpRange(flags: Record<Flag, string>): string {
  const v = flags["service-cluster-ip-range"].trim();
  if (v === "") return "";
  const errs = isValidCIDR(v);
  if (errs.length || v.includes(":"))
    throw new Error(
      `--service-cluster-ip-range: Invalid value: ${JSON.stringify(v)}: ${errs[0] ?? "must be an IPv4 CIDR"}`,
    );
  return v;
}

function makeRuntime(flags: Record<Flag, string>): Runtime {
  switch (flags.runtime) {
    case "process":
      return processRuntime(flags);
    case "docker":
      return new DockerRuntime({
        nodeName: flags["node-name"],
        clusterName: flags["cluster-name"],
        network: flags["docker-network"],
        sandboxImage: flags["sandbox-image"],
        serviceClusterIpRange: serviceClusterIpRange(flags),
        log: componentLogger("kubelet", { node: flags["node-name"] }),
      });
    case "fake":
      return new FakeRuntime(flags["pod-cidr"].split("/")[0]!, parseDuration(flags["fake-start-delay"]));
    default:
      throw new Error(
        `--runtime: Unsupported value: "${flags.runtime}": supported values: "docker", "process", "fake"`,
      );
  }
}

async function main(): Promise<void> {
  let flags: Record<Flag, string>;
  let runtime: Runtime;
  let timing: TimingRecord;
  try {
    const { spec, profile } = withTimingProfile("kubelet", FLAGS);
    flags = readFlags("kubelet", spec);
    timing = timingRecord("kubelet", profile, flags);
    for (const d of [
      "node-lease-renew-interval",
      "node-status-update-frequency",
      "crash-loop-backoff-initial",
      "crash-loop-backoff-max",
      "crash-loop-backoff-reset",
      "image-pull-backoff-initial",
      "image-pull-backoff-max",
    ] as const)
      durationFlag(flags, d);
    leaseDurationSeconds(flags["node-lease-duration-seconds"]);
    clusterDns(flags);
    runtime = makeRuntime(flags);
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    process.exit(2);
  }
  flags["node-ip"] ||=
    flags.runtime === "docker"
      ? firstAddress()
      : (runtime instanceof ProcessRuntime && runtime.podGateway) || "127.0.0.1";
  const log = componentLogger("kubelet", { node: flags["node-name"] });
  log.info({ flags }, "starting kubelet");
  if (runtime instanceof ProcessRuntime) {
    try {
      const removed = await runtime.init();
      log.info(
        { isolation: runtime.isolation, reason: runtime.isolationReason, bridge: runtime.bridge, removed },
        runtime.isolation === "namespaces"
          ? "process runtime: pods in network namespaces, containers in mount namespaces and cgroups"
          : "process runtime: containers are host processes without isolation",
      );
    } catch (err) {
      console.error(`error: ${(err as Error).message}`);
      process.exit(2);
    }
  }
  const client = createClient({ servers: flags.server.split(","), userAgent: "kubelet" });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const http = await startHttp({
    address: flags["http-address"],
    log,
    metrics: registry,
    checks: { live: async () => undefined, ready: async () => undefined },
  });
  const labels = Object.fromEntries(
    flags["node-labels"]
      .split(",")
      .filter(Boolean)
      .map((kv) => kv.split("=") as [string, string]),
  );
  const agent = new NodeAgent({
    client,
    nodeName: flags["node-name"],
    nodeIp: flags["node-ip"],
    podCidr: flags["pod-cidr"],
    capacity: { cpu: flags.cpu, memory: flags.memory, pods: flags["max-pods"] },
    labels,
    runtime,
    kubeletPort: Number(flags.port),
    leaseDurationSeconds: leaseDurationSeconds(flags["node-lease-duration-seconds"]),
    // What `ktl explain timing` reads back: this kubelet's profile and timers.
    leaseAnnotations: timingAnnotations(timing),
    leaseRenewIntervalMs: parseDuration(flags["node-lease-renew-interval"]),
    statusUpdateIntervalMs: parseDuration(flags["node-status-update-frequency"]),
    log,
  });
  for (;;) {
    try {
      await agent.register();
      break;
    } catch (err) {
      log.warn({ err: (err as Error).message }, "node registration failed; retrying");
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  const kubelet = new Kubelet({
    client,
    rootDir: resolve(flags["root-dir"], flags["node-name"]),
    runtime,
    recorder: new EventRecorder({
      events: client.resource("events"),
      component: "kubelet",
      host: flags["node-name"],
      log,
    }),
    nodeName: flags["node-name"],
    nodeIp: flags["node-ip"],
    log,
    backoff: {
      initialMs: parseDuration(flags["crash-loop-backoff-initial"]),
      maxMs: parseDuration(flags["crash-loop-backoff-max"]),
      resetMs: parseDuration(flags["crash-loop-backoff-reset"]),
    },
    imageBackoff: {
      initialMs: parseDuration(flags["image-pull-backoff-initial"]),
      maxMs: parseDuration(flags["image-pull-backoff-max"]),
    },
    relistPeriodMs: parseDuration(flags["pleg-relist-period"]),
    dns: clusterDns(flags),
    // The pod workers' queue and passes, on the same /metrics as the process's own.
    metrics: registerControllerMetrics(registry),
  });
  const host = flags.address || flags["node-ip"];
  const grpc = await createServer(
    { address: `${isIP(host) === 6 ? `[${host}]` : host}:${flags.port}`, log },
    [{ definition: PodServiceService, implementation: createPodService(kubelet, runtime, log) }],
  );
  const stop = new AbortController();
  // The kubelet stops; its pods keep running (a restarted kubelet adopts them).
  process.on("SIGTERM", () => stop.abort());
  process.on("SIGINT", () => stop.abort());
  await Promise.all([agent.run(stop.signal), kubelet.run(stop.signal)]);
  await grpc.shutdown(2_000);
  http.close();
  client.close();
  log.info("kubelet stopped; pods left running for the next kubelet to adopt");
  process.exit(0);
}

main().catch((err) => {
  componentLogger("kubelet").fatal({ err }, "kubelet failed");
  process.exit(1);
});
