import { readFileSync } from "node:fs";
import { setDefaultProbePeriodSeconds } from "@tskube/api";
import { readFlags } from "@tskube/grpc";
import { componentLogger } from "@tskube/log";
import { parseDuration, timingFlags, timingRecord, withTimingProfile } from "@tskube/machinery";
import { ipv4Range } from "./allocators/range-allocator.js";
import { startApiserver } from "./apiserver.js";

/** Every flag has a TSKUBE_* environment variable; the flag wins. */
const FLAGS = {
  "etcd-servers": { env: "TSKUBE_ETCD_SERVERS", default: "http://127.0.0.1:2379" },
  // TLS to etcd (https:// servers): the CA that signed etcd's serving certificate, and the client
  // certificate and key etcd's --client-cert-auth asks for (Kubernetes' flags of the same names).
  "etcd-cafile": { env: "TSKUBE_ETCD_CAFILE", default: "" },
  "etcd-certfile": { env: "TSKUBE_ETCD_CERTFILE", default: "" },
  "etcd-keyfile": { env: "TSKUBE_ETCD_KEYFILE", default: "" },
  // Events expire this long after their last write, through an etcd lease (kube-apiserver: 1h).
  "event-ttl": { env: "TSKUBE_EVENT_TTL", default: "1h" },
  "grpc-address": { env: "TSKUBE_GRPC_ADDRESS", default: "0.0.0.0:6443" },
  "http-address": { env: "TSKUBE_HTTP_ADDRESS", default: "0.0.0.0:8080" },
  "watch-cache-size": { env: "TSKUBE_WATCH_CACHE_SIZE", default: "10000" },
  "watch-bookmark-interval": { env: "TSKUBE_WATCH_BOOKMARK_INTERVAL", default: "60s" },
  "etcd-compaction-interval": { env: "TSKUBE_ETCD_COMPACTION_INTERVAL", default: "5m" },
  "max-object-bytes": { env: "TSKUBE_MAX_OBJECT_BYTES", default: "1572864" },
  "shutdown-grace-period": { env: "TSKUBE_SHUTDOWN_GRACE_PERIOD", default: "10s" },
  "etcd-request-timeout": { env: "TSKUBE_ETCD_REQUEST_TIMEOUT", default: "30s" },
  "service-cluster-ip-range": { env: "TSKUBE_SERVICE_CLUSTER_IP_RANGE", default: "10.96.0.0/12" },
  "service-node-port-range": { env: "TSKUBE_SERVICE_NODE_PORT_RANGE", default: "30000-32767" },
  "service-allocator-repair-interval": { env: "TSKUBE_SERVICE_ALLOCATOR_REPAIR_INTERVAL", default: "3m" },
  // --timing-profile, the default tolerations (300s upstream, 3s fast) and probe period (10, 2).
  ...timingFlags("apiserver"),
} as const;

type Flag = keyof typeof FLAGS;

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new Error(`--${name}: must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** A toleration time: whole seconds, 0 or more (an int64 in Kubernetes). */
function seconds(name: string, v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isSafeInteger(n) || n < 0)
    throw new Error(`--${name}: must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

function serviceCidr(v: string): string {
  try {
    ipv4Range(v);
  } catch (err) {
    throw new Error(`--service-cluster-ip-range: ${(err as Error).message}`);
  }
  return v;
}

/** "30000-32767" (Kubernetes also takes a single port as a range of one). */
function portRange(v: string): { min: number; max: number } {
  const m = /^(\d+)(?:-(\d+))?$/.exec(v.trim());
  const min = Number(m?.[1]);
  const max = Number(m?.[2] ?? m?.[1]);
  if (!m || min < 1 || max > 65535 || min > max)
    throw new Error(
      `--service-node-port-range: invalid port range ${JSON.stringify(v)} (want MIN-MAX within 1-65535)`,
    );
  return { min, max };
}

/** --etcd-cafile/--etcd-certfile/--etcd-keyfile read into TLS settings; undefined when none is set. */
function etcdTls(cafile: string, certfile: string, keyfile: string) {
  if (!cafile && !certfile && !keyfile) return undefined;
  if (!certfile !== !keyfile) throw new Error("--etcd-certfile and --etcd-keyfile must be given together");
  const read = (flag: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`--${flag}: ${(err as Error).message}`);
    }
  };
  return {
    ...(cafile ? { ca: read("etcd-cafile", cafile) } : {}),
    ...(certfile ? { cert: read("etcd-certfile", certfile), key: read("etcd-keyfile", keyfile) } : {}),
  };
}

/** --event-ttl as whole seconds, at least 1 (an etcd lease's TTL). */
function eventTtlSeconds(v: string): number {
  const s = Math.ceil(parseDuration(v) / 1000);
  if (!(s >= 1)) throw new Error(`--event-ttl: must be at least 1s, got ${JSON.stringify(v)}`);
  return s;
}

async function main(): Promise<void> {
  const log = componentLogger("apiserver");
  let flags: Record<Flag, string>;
  let cfg: Parameters<typeof startApiserver>[0];
  try {
    const { spec, profile } = withTimingProfile("apiserver", FLAGS);
    flags = readFlags("apiserver", spec);
    cfg = {
      etcdServers: flags["etcd-servers"]
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
      etcdTls: etcdTls(flags["etcd-cafile"], flags["etcd-certfile"], flags["etcd-keyfile"]),
      eventTtlSeconds: eventTtlSeconds(flags["event-ttl"]),
      grpcAddress: flags["grpc-address"],
      httpAddress: flags["http-address"],
      watchCacheSize: positiveInt("watch-cache-size", flags["watch-cache-size"]),
      bookmarkIntervalMs: parseDuration(flags["watch-bookmark-interval"]),
      compactionIntervalMs: parseDuration(flags["etcd-compaction-interval"]),
      maxObjectBytes: positiveInt("max-object-bytes", flags["max-object-bytes"]),
      shutdownGraceMs: parseDuration(flags["shutdown-grace-period"]),
      etcdRequestTimeoutMs: parseDuration(flags["etcd-request-timeout"]),
      serviceClusterIpRange: serviceCidr(flags["service-cluster-ip-range"]),
      serviceNodePortRange: portRange(flags["service-node-port-range"]),
      serviceAllocatorRepairIntervalMs: parseDuration(flags["service-allocator-repair-interval"]),
      admission: {
        defaultNotReadyTolerationSeconds: seconds(
          "default-not-ready-toleration-seconds",
          flags["default-not-ready-toleration-seconds"],
        ),
        defaultUnreachableTolerationSeconds: seconds(
          "default-unreachable-toleration-seconds",
          flags["default-unreachable-toleration-seconds"],
        ),
      },
      timing: timingRecord("apiserver", profile, flags),
      log,
    };
    // Probes without periodSeconds get the profile's period (Kubernetes always gives 10).
    setDefaultProbePeriodSeconds(
      positiveInt("default-probe-period-seconds", flags["default-probe-period-seconds"]),
    );
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    process.exit(2);
  }
  log.info({ flags }, "starting apiserver");
  const server = await startApiserver(cfg);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    server.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((err) => {
  componentLogger("apiserver").fatal({ err }, "apiserver failed");
  process.exit(1);
});
