import type { Pod } from "@tskube/api";
import type { Client } from "@tskube/client";
import type { EventRecorder } from "@tskube/controller";
import type { Logger } from "@tskube/log";
import type { RestartBackoff } from "./backoff.js";
import { ContainerKiller } from "./container-kill.js";
import { ContainerStarter } from "./container-start.js";
import type { DnsConfigurer } from "./dns-config.js";
import type { ImageBackoffOptions } from "./images.js";
import { PodSync } from "./pod-sync.js";
import { PodTerminator, podGracePeriodSeconds } from "./pod-terminate.js";
import type { PodSyncFuncs } from "./pod-workers.js";
import type { ProbeManager } from "./prober.js";
import { LABEL_POD_UID, type Runtime, type ContainerStatus as RuntimeContainer } from "./runtime/types.js";
import type { ServiceEnv } from "./service-env.js";
import type { VolumeManager } from "./volumes.js";

export interface PodSyncerOptions {
  client: Client;
  volumes: VolumeManager;
  probes?: ProbeManager;
  runtime: Runtime;
  recorder: EventRecorder;
  backoff: RestartBackoff;
  /** Image pull back-off (Kubernetes: 10 s doubling to 5 min). */
  imageBackoff?: ImageBackoffOptions;
  nodeName: string;
  nodeIp: string;
  log: Logger;
  now?: () => number;
  /** Service environment variables for containers (enableServiceLinks). */
  serviceEnv?: ServiceEnv;
  /** The pods' DNS configuration (--cluster-dns, --cluster-domain). */
  dns?: DnsConfigurer;
}

/**
 * What the pod workers run for one pod, wired from its parts: syncPod (pod-sync.ts) with the
 * container starter and killer, and the termination steps (pod-terminate.ts). It keeps no state of
 * its own beyond what the parts remember per pod, which syncTerminatedPod forgets.
 */
export class PodSyncer implements PodSyncFuncs {
  private readonly killer: ContainerKiller;
  private readonly starter: ContainerStarter;
  private readonly podSync: PodSync;
  private readonly terminator: PodTerminator;

  constructor(private readonly opts: PodSyncerOptions) {
    const { client, runtime, recorder, log } = opts;
    const now = opts.now ? { now: opts.now } : {};
    this.killer = new ContainerKiller({ runtime, recorder, log, ...now });
    this.starter = new ContainerStarter({
      client,
      runtime,
      recorder,
      log,
      volumes: opts.volumes,
      killer: this.killer,
      nodeIp: opts.nodeIp,
      ...(opts.imageBackoff ? { imageBackoff: opts.imageBackoff } : {}),
      ...(opts.serviceEnv ? { serviceEnv: opts.serviceEnv } : {}),
      // As Kubernetes' prober workers, which begin as soon as the container has started rather
      // than at the pod's next sync.
      onStarted: (pod, spec, id, podIp) => opts.probes?.ensure(pod, spec, id, podIp),
      ...now,
    });
    this.podSync = new PodSync({
      client,
      runtime,
      recorder,
      volumes: opts.volumes,
      backoff: opts.backoff,
      starter: this.starter,
      killer: this.killer,
      nodeIp: opts.nodeIp,
      ...(opts.probes ? { probes: opts.probes } : {}),
      ...(opts.dns ? { dns: opts.dns } : {}),
      ...now,
    });
    this.terminator = new PodTerminator({ client, runtime, killer: this.killer });
  }

  syncPod(pod: Pod): Promise<number | undefined> {
    return this.podSync.syncPod(pod);
  }

  syncTerminatingPod(pod: Pod, gracePeriodSeconds: number): Promise<void> {
    return this.terminator.stopContainers(pod, gracePeriodSeconds);
  }

  async syncTerminatedPod(uid: string): Promise<void> {
    await this.terminator.removeSandboxes(uid);
    this.opts.backoff.forget(`${uid}/`);
    this.starter.forget(uid);
    this.podSync.forget(uid);
    this.opts.volumes.tearDown(uid);
  }

  deletePod(pod: Pod): Promise<void> {
    return this.terminator.deletePod(pod);
  }

  /**
   * One whole pass for one pod object, outside the pod workers: a deleted pod goes through the
   * three termination steps, any other is synced. The kubelet's workers call the steps themselves,
   * since they also end pods whose object is already gone.
   */
  async sync(pod: Pod): Promise<number | undefined> {
    if (!pod.metadata!.deletionTimestamp) return this.syncPod(pod);
    await this.syncTerminatingPod(pod, podGracePeriodSeconds(pod));
    await this.syncTerminatedPod(pod.metadata!.uid);
    await this.deletePod(pod);
    return undefined;
  }

  /** Kubernetes' killContainer: preStop, then SIGTERM with what is left of the grace period. */
  killContainer(
    pod: Pod,
    c: RuntimeContainer,
    graceSeconds: number,
    podIp: string,
    message?: string,
  ): Promise<void> {
    return this.killer.killContainer(pod, c, graceSeconds, podIp, message);
  }

  /** Containers of one pod as the runtime reports them (for logs). */
  async containersOf(uid: string): Promise<RuntimeContainer[]> {
    return (await this.opts.runtime.listContainers()).filter((c) => c.labels[LABEL_POD_UID] === uid);
  }
}
