import type { Pod, Service } from "@tskube/api";
import type { Client } from "@tskube/client";
import { type ControllerMetrics, type EventRecorder, Informer, sleep } from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { RestartBackoff } from "./backoff.js";
import { DnsConfigurer, type DnsConfigurerOptions } from "./dns-config.js";
import { PodSyncer } from "./pod-syncer.js";
import { PodWorkers } from "./pod-workers.js";
import { ProbeManager } from "./prober.js";
import { LABEL_POD_UID, type Runtime } from "./runtime/types.js";
import { ServiceEnv } from "./service-env.js";
import { VolumeManager } from "./volumes.js";

export interface KubeletOptions {
  client: Client;
  /** Absolute; pod volumes live under it (the same path on the host for the docker runtime). */
  rootDir: string;
  runtime: Runtime;
  recorder: EventRecorder;
  nodeName: string;
  nodeIp: string;
  log: Logger;
  backoff: { initialMs: number; maxMs: number; resetMs: number };
  /** Image pull back-off (Kubernetes: 10 s doubling to 5 min). */
  imageBackoff?: { initialMs: number; maxMs: number };
  /** How often the runtime is relisted for changes (the PLEG period). */
  relistPeriodMs: number;
  workers?: number;
  /** --cluster-dns, --cluster-domain, --resolv-conf: the pods' resolv.conf. */
  dns?: DnsConfigurerOptions;
  /** Workqueue and reconcile metrics (/metrics) for the pod workers. */
  metrics?: ControllerMetrics;
}

/**
 * The pod side of the kubelet: an informer on the pods bound to this node, a worker per pod
 * (pod-workers.ts), and a relist of the runtime (Kubernetes' PLEG) that re-syncs a pod whenever one
 * of its containers changes state. The informer's handlers, the probes and the relist only record
 * and enqueue; each pod's worker does what they call for, one pass at a time. Housekeeping hands
 * what the runtime holds for pods no worker knows to a worker too; it never touches pods that
 * exist, so a restarted kubelet adopts running containers untouched.
 */
export class Kubelet {
  readonly pods: Informer<Pod>;
  /** Every Service: the containers' service environment variables. */
  readonly services: Informer<Service>;
  readonly syncer: PodSyncer;
  readonly workers: PodWorkers;
  readonly probes: ProbeManager;

  constructor(private readonly opts: KubeletOptions) {
    this.probes = new ProbeManager({
      runtime: opts.runtime,
      recorder: opts.recorder,
      log: opts.log,
      onChange: (uid) => this.workers.enqueue(uid),
    });
    this.pods = new Informer(opts.client.resource<Pod>("pods"), {
      fieldSelector: `spec.nodeName=${opts.nodeName}`,
      log: opts.log,
    });
    this.services = new Informer(opts.client.resource<Service>("services"), { log: opts.log });
    this.syncer = new PodSyncer({
      client: opts.client,
      serviceEnv: new ServiceEnv(this.services),
      ...(opts.dns ? { dns: new DnsConfigurer(opts.dns) } : {}),
      volumes: new VolumeManager(opts.rootDir, opts.client),
      probes: this.probes,
      runtime: opts.runtime,
      recorder: opts.recorder,
      backoff: new RestartBackoff(opts.backoff),
      ...(opts.imageBackoff ? { imageBackoff: opts.imageBackoff } : {}),
      nodeName: opts.nodeName,
      nodeIp: opts.nodeIp,
      log: opts.log,
    });
    this.workers = new PodWorkers({
      sync: this.syncer,
      workers: opts.workers ?? 4,
      log: opts.log,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
    });
    this.pods.addEventHandler({
      onAdd: (p) => this.workers.updatePod(p),
      onUpdate: (_, p) => this.workers.updatePod(p),
      onDelete: (p) => this.workers.removePod(p),
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    const informer = this.pods.run(signal);
    const services = this.services.run(signal);
    // Containers started before the Services are known would miss their variables.
    await Promise.all([this.pods.waitForSync(signal), this.services.waitForSync(signal)]);
    this.opts.log.info({ pods: this.pods.store.size }, "pod cache synced; syncing pods");
    await Promise.all([informer, services, this.workers.run(signal), this.relist(signal)]);
  }

  /** PLEG: compare the runtime's container states with the last relist and re-sync changed pods. */
  private async relist(signal: AbortSignal): Promise<void> {
    let last = new Map<string, string>();
    while (!signal.aborted) {
      try {
        const seen = new Map<string, string>();
        const running = new Set<string>();
        for (const c of await this.opts.runtime.listContainers()) {
          if (c.state === "RUNNING") running.add(c.id);
          const uid = c.labels[LABEL_POD_UID] ?? "";
          seen.set(uid, `${seen.get(uid) ?? ""}${c.id}:${c.state};`);
        }
        // A dead sandbox (its containers may still run, cut off from the network) is a change too.
        for (const s of await this.opts.runtime.listPodSandboxes())
          seen.set(s.podUid, `${seen.get(s.podUid) ?? ""}${s.id}:${s.state};`);
        for (const [uid, sig] of seen) if (last.get(uid) !== sig) this.workers.enqueue(uid);
        this.probes.retain(running);
        await this.housekeeping();
        last = seen;
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, "runtime relist failed");
      }
      await sleep(
        { now: Date.now, setTimeout, clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) },
        this.opts.relistPeriodMs,
        signal,
      );
    }
  }

  /**
   * Sandboxes of pods no worker knows (deleted while this kubelet was away) go to a worker to be
   * removed, as Kubernetes' HandlePodCleanups hands orphaned runtime pods to the pod workers.
   */
  private async housekeeping(): Promise<void> {
    if (!this.pods.hasSynced()) return;
    for (const s of await this.opts.runtime.listPodSandboxes()) {
      if (this.workers.knows(s.podUid)) continue;
      this.opts.log.info({ uid: s.podUid }, "removing the sandbox of a pod that no longer exists");
      this.workers.removeOrphan(s.podUid);
    }
  }
}
