import { hostname, networkInterfaces } from "node:os";
import { createClient } from "@tskube/client";
import { readFlags, startHttp } from "@tskube/grpc";
import { componentLogger } from "@tskube/log";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import { systemIptables } from "./iptables/iptables.js";
import { IptablesProxier } from "./iptables/proxier.js";
import { KubeProxy } from "./kube-proxy.js";
import { watchNetworkNamespace } from "./netns-watch.js";
import {
  nodePortListenAddresses,
  parseBool,
  parseCidr,
  parseCidrList,
  parseDurationFlag,
  parseIp,
  parseProxyMode,
} from "./options.js";
import type { Proxier } from "./proxier.js";
import { UserspaceProxier } from "./userspace/proxier.js";

/** Every flag has a TSKUBE_* environment variable; the flag wins. Defaults are Kubernetes' unless noted. */
const FLAGS = {
  server: { env: "TSKUBE_SERVER", default: "127.0.0.1:6443" },
  // Kubernetes' --healthz-bind-address port; /metrics is served here too.
  "http-address": { env: "TSKUBE_HTTP_ADDRESS", default: "0.0.0.0:10256" },
  // "": iptables when running as root with a working iptables, else userspace.
  "proxy-mode": { env: "TSKUBE_PROXY_MODE", default: "" },
  "hostname-override": { env: "TSKUBE_HOSTNAME_OVERRIDE", default: "" },
  "cluster-cidr": { env: "TSKUBE_CLUSTER_CIDR", default: "" },
  "nodeport-addresses": { env: "TSKUBE_NODEPORT_ADDRESSES", default: "" },
  "iptables-sync-period": { env: "TSKUBE_IPTABLES_SYNC_PERIOD", default: "30s" },
  // Kubernetes: 1s. Half of it here so that a change right after a sync is still in place within
  // a second (min period + one sync).
  "iptables-min-sync-period": { env: "TSKUBE_IPTABLES_MIN_SYNC_PERIOD", default: "500ms" },
  // Kubernetes' FullSyncPeriod (a constant there): syncs in between rewrite only changed chains.
  "iptables-full-sync-period": { env: "TSKUBE_IPTABLES_FULL_SYNC_PERIOD", default: "1h" },
  // Not in Kubernetes: how long a change waits for the rest of its burst before a sync starts.
  "sync-burst-delay": { env: "TSKUBE_SYNC_BURST_DELAY", default: "50ms" },
  "masquerade-all": { env: "TSKUBE_MASQUERADE_ALL", default: "false" },
  // userspace mode: where NodePorts listen when --nodeport-addresses is empty.
  "bind-address": { env: "TSKUBE_BIND_ADDRESS", default: "0.0.0.0" },
} as const;
type Flag = keyof typeof FLAGS;

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((l) => l ?? [])
    .map((a) => a.address);
}

async function main(): Promise<void> {
  const log = componentLogger("kube-proxy");
  let flags: Record<Flag, string>;
  let cfg: {
    mode: ReturnType<typeof parseProxyMode>;
    clusterCidr: string;
    nodePortAddresses: string[];
    syncPeriodMs: number;
    minSyncPeriodMs: number;
    fullSyncPeriodMs: number;
    burstDelayMs: number;
    masqueradeAll: boolean;
    bindAddress: string;
  };
  try {
    flags = readFlags("kube-proxy", FLAGS);
    const syncPeriodMs = parseDurationFlag("iptables-sync-period", flags["iptables-sync-period"]);
    const minSyncPeriodMs = parseDurationFlag("iptables-min-sync-period", flags["iptables-min-sync-period"]);
    if (syncPeriodMs <= 0)
      throw new Error(
        `iptables-sync-period: Invalid value: ${JSON.stringify(flags["iptables-sync-period"])}: must be greater than 0`,
      );
    if (minSyncPeriodMs > syncPeriodMs)
      throw new Error(
        `iptables-min-sync-period: Invalid value: ${JSON.stringify(flags["iptables-min-sync-period"])}: must be less than or equal to iptables-sync-period`,
      );
    cfg = {
      clusterCidr: parseCidr("cluster-cidr", flags["cluster-cidr"]),
      nodePortAddresses: parseCidrList("nodeport-addresses", flags["nodeport-addresses"]),
      syncPeriodMs,
      minSyncPeriodMs,
      fullSyncPeriodMs: parseDurationFlag("iptables-full-sync-period", flags["iptables-full-sync-period"]),
      burstDelayMs: parseDurationFlag("sync-burst-delay", flags["sync-burst-delay"]),
      masqueradeAll: parseBool("masquerade-all", flags["masquerade-all"]),
      bindAddress: parseIp("bind-address", flags["bind-address"]),
      mode: parseProxyMode(flags["proxy-mode"]),
    };
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    process.exit(2);
  }
  const nodeName = flags["hostname-override"] || hostname();
  log.info({ flags, mode: cfg.mode.mode, reason: cfg.mode.reason, nodeName }, "starting kube-proxy");

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = {
    syncDuration: new Histogram({
      name: "kubeproxy_sync_proxy_rules_duration_seconds",
      help: "SyncProxyRules latency in seconds.",
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
      registers: [registry],
    }),
    networkProgramming: new Histogram({
      name: "kubeproxy_network_programming_duration_seconds",
      help: "In Cluster Network Programming Latency in seconds.",
      buckets: [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [registry],
    }),
    changes: new Counter({
      name: "kubeproxy_sync_proxy_rules_changes_total",
      help: "Service and Endpoints changes seen by the informers.",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    syncs: new Counter({
      name: "kubeproxy_sync_proxy_rules_total",
      help: "Syncs by result.",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
  };
  const proxied = new Counter({
    name: "kubeproxy_userspace_connections_total",
    help: "Connections the userspace proxy handed to an endpoint.",
    registers: [registry],
  });

  let proxier: Proxier;
  if (cfg.mode.mode === "iptables") {
    proxier = new IptablesProxier(
      systemIptables,
      {
        nodeName,
        clusterCidr: cfg.clusterCidr,
        masqueradeAll: cfg.masqueradeAll,
        nodePortAddresses: cfg.nodePortAddresses,
      },
      log,
      cfg.syncPeriodMs,
      cfg.fullSyncPeriodMs,
    );
  } else {
    proxier = new UserspaceProxier({
      nodePortAddresses: nodePortListenAddresses(
        cfg.nodePortAddresses,
        cfg.bindAddress,
        interfaceAddresses(),
      ),
      log,
      onProxied: () => proxied.inc(),
    });
  }

  const client = createClient({ servers: flags.server.split(","), userAgent: "kube-proxy" });
  const proxy = new KubeProxy({
    client,
    proxier,
    log,
    minSyncPeriodMs: cfg.minSyncPeriodMs,
    syncPeriodMs: cfg.syncPeriodMs,
    burstDelayMs: cfg.burstDelayMs,
    metrics,
  });
  const http = await startHttp({
    address: flags["http-address"],
    log,
    metrics: registry,
    checks: { live: async () => proxy.healthy(), ready: async () => proxy.ready() },
  });
  const stop = new AbortController();
  const shutdown = (signal: string) => {
    log.info({ signal }, "shutting down");
    stop.abort();
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  watchNetworkNamespace({
    periodMs: 1000,
    graceMs: 3000,
    log,
    onLost: () => {
      process.exitCode = 1;
      shutdown("network namespace lost");
    },
  });
  // Rules stay in place on exit, as Kubernetes' kube-proxy leaves them: traffic keeps flowing while
  // the proxy restarts, and the next start rewrites them.
  await proxy.run(stop.signal);
  http.close();
  client.close();
  process.exit(process.exitCode ?? 0);
}

main().catch((err) => {
  componentLogger("kube-proxy").fatal({ err }, "kube-proxy failed");
  process.exit(1);
});
