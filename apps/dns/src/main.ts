import { createClient } from "@tskube/client";
import { SharedInformerFactory } from "@tskube/controller";
import { readFlags, startHttp } from "@tskube/grpc";
import { componentLogger } from "@tskube/log";
import { Counter, collectDefaultMetrics, Registry } from "prom-client";
import { parseDnsFlags } from "./flags.js";
import { DnsHandler } from "./handler.js";
import { InformerState } from "./informer-state.js";
import { DnsServer, splitHostPort } from "./server.js";
import { Forwarder, resolveUpstreams } from "./upstream.js";
import { KubernetesZone } from "./zone.js";

/** Every flag has a TSKUBE_* environment variable; the flag wins. Defaults are CoreDNS' in a kubeadm cluster. */
const FLAGS = {
  server: { env: "TSKUBE_SERVER", default: "127.0.0.1:6443" },
  // host:port, comma-separated for several (a loopback port for tools and :53 where pods reach it).
  "listen-address": { env: "TSKUBE_DNS_LISTEN_ADDRESS", default: "0.0.0.0:53" },
  // CoreDNS' health (8080), ready (8181) and prometheus (9153) in one: /healthz, /readyz, /metrics.
  "http-address": { env: "TSKUBE_HTTP_ADDRESS", default: "0.0.0.0:9153" },
  "cluster-domain": { env: "TSKUBE_CLUSTER_DOMAIN", default: "cluster.local" },
  // The kubernetes plugin's own default is 5s; kubeadm's Corefile sets `ttl 30`, what clusters answer.
  ttl: { env: "TSKUBE_DNS_TTL", default: "30s" },
  // `pods insecure` as in kubeadm's Corefile; `disabled` answers NXDOMAIN for pod names.
  pods: { env: "TSKUBE_DNS_PODS", default: "insecure" },
  // `forward . /etc/resolv.conf`: a resolv.conf path, addresses (ip[:port],…), or "" to refuse.
  upstream: { env: "TSKUBE_DNS_UPSTREAM", default: "/etc/resolv.conf" },
  "upstream-timeout": { env: "TSKUBE_DNS_UPSTREAM_TIMEOUT", default: "2s" },
  "tcp-idle-timeout": { env: "TSKUBE_DNS_TCP_IDLE_TIMEOUT", default: "8s" },
} as const;

async function main(): Promise<void> {
  const log = componentLogger("dns");
  let flags: Record<keyof typeof FLAGS, string>;
  let parsed: ReturnType<typeof parseDnsFlags>;
  let listen: ReturnType<typeof splitHostPort>[];
  let upstreams: ReturnType<typeof resolveUpstreams>;
  try {
    flags = readFlags("dns", FLAGS);
    parsed = parseDnsFlags(flags);
    listen = flags["listen-address"].split(",").filter(Boolean).map(splitHostPort);
    if (listen.length === 0) throw new Error('--listen-address: Required value: ""');
    // This server's own addresses are left out, so a resolv.conf pointing at it does not loop.
    upstreams = resolveUpstreams(flags.upstream).filter(
      (u) => !listen.some((l) => l.port === u.port && (l.host === u.host || l.host === "0.0.0.0")),
    );
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    process.exit(2);
  }
  log.info({ flags, upstreams }, "starting dns");
  const client = createClient({ servers: flags.server.split(","), userAgent: "dns" });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = {
    requests: new Counter({
      name: "dns_requests_total",
      help: "DNS queries by transport and query type.",
      labelNames: ["proto", "type"] as const,
      registers: [registry],
    }),
    responses: new Counter({
      name: "dns_responses_total",
      help: "DNS responses by rcode and by who answered (cluster, forward, refused, error).",
      labelNames: ["rcode", "source"] as const,
      registers: [registry],
    }),
  };
  const informers = new SharedInformerFactory(client, { log });
  const state = new InformerState(informers);
  const zone = new KubernetesZone({
    domain: parsed.clusterDomain,
    ttl: parsed.ttlSeconds,
    pods: parsed.pods,
    state,
  });
  const handler = new DnsHandler({
    zone,
    forwarder: upstreams.length ? new Forwarder(upstreams, parsed.upstreamTimeoutMs) : undefined,
    log,
    metrics,
  });
  const stop = new AbortController();
  informers.start(stop.signal);
  const servers = listen.map(
    (l) =>
      new DnsServer({
        address: `${l.host.includes(":") ? `[${l.host}]` : l.host}:${l.port}`,
        handler,
        log,
        tcpIdleTimeoutMs: parsed.tcpIdleTimeoutMs,
      }),
  );
  for (const s of servers) await s.listen();
  const http = await startHttp({
    address: flags["http-address"],
    log,
    metrics: registry,
    checks: {
      live: async () => undefined,
      // As CoreDNS' ready plugin: ready once the kubernetes plugin has synced its watches.
      ready: async () => (state.synced() ? undefined : "kubernetes: informers not synced"),
    },
  });
  void informers.waitForCacheSync(stop.signal).then((ok) => {
    if (ok) log.info("services, endpoints and namespaces synced; answering the cluster domain");
  });
  const shutdown = async (signal: string) => {
    log.info({ signal }, "shutting down");
    stop.abort();
    for (const s of servers) await s.close();
    http.close();
    client.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err) => {
  componentLogger("dns").fatal({ err }, "dns failed");
  process.exit(1);
});
