import { objectKey, type Pod, type Service } from "@tskube/api";
import type { Client } from "@tskube/client";
import { Controller, type EventRecorder, Informer, sleep } from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { RestartBackoff } from "./backoff.js";
import { DnsConfigurer, type DnsConfigurerOptions } from "./dns-config.js";
import { PodSyncer } from "./pod-syncer.js";
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
}

/**
 * The pod side of the kubelet: an informer on the pods bound to this node, a worker per pod key,
 * and a relist of the runtime (Kubernetes' PLEG) that re-syncs a pod whenever one of its containers
 * changes state. Housekeeping removes what the runtime holds for pods that no longer exist; it never
 * touches pods that do, so a restarted kubelet adopts running containers untouched.
 */
export class Kubelet {
  readonly pods: Informer<Pod>;
  /** Every Service: the containers' service environment variables. */
  readonly services: Informer<Service>;
  readonly syncer: PodSyncer;
  private readonly controller: Controller;
  private readonly keyByUid = new Map<string, string>();
  readonly probes: ProbeManager;

  constructor(private readonly opts: KubeletOptions) {
    this.probes = new ProbeManager({
      runtime: opts.runtime,
      recorder: opts.recorder,
      log: opts.log,
      onChange: (uid) => this.enqueueUid(uid),
      onUnhealthy: (uid, containerId, message) => {
        const key = this.keyByUid.get(uid);
        const pod = key ? this.pods.store.get(key) : undefined;
        void (async () => {
          const grace = pod?.spec?.terminationGracePeriodSeconds ?? 30;
          // As any kill of a container: its preStop hook runs first.
          const container = (await opts.runtime.listContainers()).find((c) => c.id === containerId);
          if (pod && container)
            await this.syncer.killContainer(pod, container, grace, pod.status?.podIp ?? "", message);
          else await opts.runtime.stopContainer(containerId, grace);
          this.enqueueUid(uid);
        })().catch((err) =>
          opts.log.warn({ err: (err as Error).message }, "could not restart an unhealthy container"),
        );
      },
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
    this.controller = new Controller({
      name: "pod-workers",
      workers: opts.workers ?? 4,
      log: opts.log,
      reconcile: async (key) => {
        const pod = this.pods.store.get(key);
        if (!pod) return undefined;
        const after = await this.syncer.sync(pod);
        return after === undefined ? undefined : { requeueAfterMs: after };
      },
    });
    const track = (p: Pod) => {
      this.keyByUid.set(p.metadata!.uid, objectKey(p));
      this.controller.enqueue(objectKey(p));
    };
    this.pods.addEventHandler({
      onAdd: track,
      onUpdate: (_, p) => track(p),
      onDelete: (p) => {
        this.keyByUid.delete(p.metadata!.uid);
        void this.syncer
          .cleanup(p.metadata!.uid)
          .catch((err) => opts.log.warn({ err: (err as Error).message }, "cleanup failed"));
      },
    });
  }

  private enqueueUid(uid: string): void {
    const key = this.keyByUid.get(uid);
    if (key) this.controller.enqueue(key);
  }

  async run(signal: AbortSignal): Promise<void> {
    const informer = this.pods.run(signal);
    const services = this.services.run(signal);
    // Containers started before the Services are known would miss their variables.
    await Promise.all([this.pods.waitForSync(signal), this.services.waitForSync(signal)]);
    this.opts.log.info({ pods: this.pods.store.size }, "pod cache synced; syncing pods");
    await Promise.all([informer, services, this.controller.run(signal), this.relist(signal)]);
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
        for (const [uid, sig] of seen) {
          if (last.get(uid) === sig) continue;
          const key = this.keyByUid.get(uid);
          if (key) this.controller.enqueue(key);
        }
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

  /** Sandboxes of pods that are gone from the API (deleted while this kubelet was away). */
  private async housekeeping(): Promise<void> {
    if (!this.pods.hasSynced()) return;
    const known = new Set(this.pods.store.list().map((p) => p.metadata!.uid));
    for (const s of await this.opts.runtime.listPodSandboxes()) {
      if (!known.has(s.podUid)) {
        this.opts.log.info({ uid: s.podUid }, "removing the sandbox of a pod that no longer exists");
        await this.syncer.cleanup(s.podUid);
      }
    }
  }
}
