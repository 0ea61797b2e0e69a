import type { Server as HttpServer } from "node:http";
import type { SecureContextOptions } from "node:tls";
import {
  eventKind,
  KINDS,
  type KindDefinition,
  Namespace,
  namespaceKind,
  PodServiceService,
  ResourceServiceService,
  serviceKind,
} from "@tskube/api";
import { createServer, startHttp, type TskubeServer } from "@tskube/grpc";
import type { Logger } from "@tskube/log";
import { isAlreadyExists, type TimingRecord } from "@tskube/machinery";
import { type AdmissionOptions, admissionChain } from "./admission.js";
import { ServiceAllocator } from "./allocators/service-allocator.js";
import { createMetrics } from "./metrics.js";
import { createPodProxy } from "./pod-proxy.js";
import { Registry, type StorageHooks } from "./registry.js";
import { createResourceService } from "./service.js";
import { Cacher } from "./storage/cacher.js";
import { EtcdKv } from "./storage/etcd-kv.js";
import { registerEtcdRequestMetric } from "./storage/etcd-metrics.js";
import { EtcdStore } from "./storage/etcd-store.js";
import { recordTiming } from "./timing-record.js";

export interface ApiserverConfig {
  etcdServers: string[];
  /** TLS to etcd (--etcd-cafile, --etcd-certfile, --etcd-keyfile); `https://` servers need it. */
  etcdTls?: SecureContextOptions | undefined;
  /** Events expire this long after their last write (--event-ttl, Kubernetes: 1h). */
  eventTtlSeconds?: number | undefined;
  grpcAddress: string;
  httpAddress: string;
  watchCacheSize: number;
  bookmarkIntervalMs: number;
  compactionIntervalMs: number;
  maxObjectBytes: number;
  shutdownGraceMs: number;
  /** Deadline of one etcd call (Kubernetes bounds them by the request's --request-timeout). */
  etcdRequestTimeoutMs: number;
  /** ClusterIPs come from here (--service-cluster-ip-range). */
  serviceClusterIpRange: string;
  /** NodePorts come from here (--service-node-port-range), inclusive. */
  serviceNodePortRange: { min: number; max: number };
  /** How often leaked IP and port reservations are looked for (Kubernetes: every 3 minutes). */
  serviceAllocatorRepairIntervalMs: number;
  /** Admission plugins' settings (Kubernetes' defaults when absent). */
  admission?: AdmissionOptions;
  /** The timing profile and values to record in ConfigMap kube-system/tskube-timing at start. */
  timing?: TimingRecord;
  log: Logger;
}

/** kube-apiserver's --event-ttl default: one hour. */
export const DEFAULT_EVENT_TTL_SECONDS = 3600;

/** Namespaces every cluster starts with (Kubernetes' system namespaces controller creates the same). */
export const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];

export interface Apiserver {
  grpcPort: number;
  stop(): Promise<void>;
}

export async function startApiserver(cfg: ApiserverConfig): Promise<Apiserver> {
  const log = cfg.log;
  const metrics = createMetrics();
  const kv = new EtcdKv(cfg.etcdServers, {
    timeoutMs: cfg.etcdRequestTimeoutMs,
    connectTimeoutMs: 5000,
    tls: cfg.etcdTls,
  });
  registerEtcdRequestMetric(metrics.registry, kv);
  const store = new EtcdStore(kv, metrics.etcdLatency);
  const registries = new Map<string, Registry>();
  let nsRegistry: Registry | undefined;
  const admit = admissionChain(cfg.admission);
  const serviceAllocator = new ServiceAllocator(
    store,
    { serviceCidr: cfg.serviceClusterIpRange, nodePorts: cfg.serviceNodePortRange },
    log,
  );
  // Storage beyond a kind's strategy, keyed by the kind's declaration (Kubernetes wires the same
  // per resource in its REST storage providers).
  const storageHooks = new Map<KindDefinition, StorageHooks>([[serviceKind, serviceAllocator]]);
  for (const kind of KINDS) {
    const cacher = new Cacher(kind, kv, store, {
      capacity: cfg.watchCacheSize,
      log,
    });
    const reg = new Registry(kind, {
      store,
      cacher,
      hooks: storageHooks.get(kind),
      namespaces: () => nsRegistry!,
      maxObjectBytes: cfg.maxObjectBytes,
      admit,
      ttlSeconds: kind === eventKind ? (cfg.eventTtlSeconds ?? DEFAULT_EVENT_TTL_SECONDS) : undefined,
    });
    registries.set(kind.resource, reg);
  }
  nsRegistry = registries.get(namespaceKind.resource);
  let ready = false;
  const checkEtcd = async () => {
    try {
      await store.currentRevision();
      return undefined;
    } catch (err) {
      return `etcd: ${(err as Error).message}`;
    }
  };
  const http: HttpServer = await startHttp({
    address: cfg.httpAddress,
    log,
    metrics: metrics.registry,
    checks: {
      live: async () => undefined,
      ready: async () => (ready ? await checkEtcd() : "informer-sync: watch caches not synced yet"),
    },
  });

  const service = createResourceService({
    registries,
    etcd: kv,
    store,
    log,
    metrics,
    bookmarkIntervalMs: cfg.bookmarkIntervalMs,
    maxObjectBytes: cfg.maxObjectBytes,
    ready: () => ready,
  });
  const grpc: TskubeServer = await createServer({ address: cfg.grpcAddress, log }, [
    { definition: ResourceServiceService, implementation: service },
    {
      definition: PodServiceService,
      implementation: createPodProxy(registries.get("pods")!, registries.get("nodes")!, log),
    },
  ]);
  // Not serving until the caches hold the cluster's state.
  grpc.health.setStatus("", "NOT_SERVING");
  grpc.health.setStatus("tskube.v1.ResourceService", "NOT_SERVING");

  for (const reg of registries.values()) void reg.cacher.start();
  await Promise.all([...registries.values()].map((r) => r.cacher.waitReady()));
  for (const name of SYSTEM_NAMESPACES) {
    try {
      await nsRegistry!.create(Namespace.fromPartial({ metadata: { name } }), { namespace: "" });
      log.info({ namespace: name }, "created system namespace");
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
  if (cfg.timing) await recordTiming(registries.get("configmaps")!, cfg.timing, log);
  ready = true;
  grpc.health.setStatus("", "SERVING");
  grpc.health.setStatus("tskube.v1.ResourceService", "SERVING");
  log.info("apiserver ready");

  // History older than one compaction interval is dropped, as Kubernetes' apiserver does; watches
  // from older revisions then get "too old" and clients re-list.
  let lastSeen = 0;
  const compactor = setInterval(async () => {
    try {
      const rev = await store.currentRevision();
      if (lastSeen > 0) {
        await store.compact(lastSeen);
        log.info({ revision: lastSeen }, "compacted etcd");
      }
      lastSeen = rev;
    } catch (err) {
      log.warn({ err }, "etcd compaction failed");
    }
  }, cfg.compactionIntervalMs);
  compactor.unref();
  // A reservation younger than one interval may belong to a create still in flight.
  const repair = () =>
    serviceAllocator
      .repair(registries.get("services")!.cacher, cfg.serviceAllocatorRepairIntervalMs)
      .catch((err) => log.warn({ err }, "service allocation repair failed"));
  void repair();
  const repairer = setInterval(repair, cfg.serviceAllocatorRepairIntervalMs);
  repairer.unref();

  return {
    grpcPort: grpc.port,
    async stop() {
      clearInterval(compactor);
      clearInterval(repairer);
      ready = false;
      await grpc.shutdown(cfg.shutdownGraceMs);
      await Promise.all([...registries.values()].map((r) => r.cacher.stop()));
      await new Promise<void>((r) => http.close(() => r()));
      http.closeAllConnections?.();
      kv.close();
    },
  };
}
