import type { Pod } from "@tskube/api";
import type { Client } from "@tskube/client";
import type { EventRecorder } from "@tskube/controller";
import { isConflict, isNotFound } from "@tskube/machinery";
import type { RestartBackoff } from "./backoff.js";
import { type ContainerKiller, formatPod } from "./container-kill.js";
import type { ContainerStarter } from "./container-start.js";
import { type DnsConfigurer, sandboxDnsConfig } from "./dns-config.js";
import { type ContainerView, computePodStatus } from "./pod-status.js";
import type { ProbeManager } from "./prober.js";
import {
  LABEL_ATTEMPT,
  LABEL_CONTAINER_NAME,
  LABEL_POD_NAME,
  LABEL_POD_NAMESPACE,
  LABEL_POD_UID,
  type Runtime,
  type ContainerStatus as RuntimeContainer,
  type SandboxStatus,
} from "./runtime/types.js";
import type { VolumeManager } from "./volumes.js";

export interface PodSyncOptions {
  client: Client;
  runtime: Runtime;
  recorder: EventRecorder;
  volumes: VolumeManager;
  backoff: RestartBackoff;
  starter: ContainerStarter;
  killer: ContainerKiller;
  probes?: ProbeManager;
  nodeIp: string;
  /** The pods' DNS configuration (--cluster-dns, --cluster-domain). */
  dns?: DnsConfigurer;
  now?: () => number;
}

const byAttempt = (a: RuntimeContainer, b: RuntimeContainer) =>
  Number(a.labels[LABEL_ATTEMPT]) - Number(b.labels[LABEL_ATTEMPT]);

/**
 * Kubernetes' syncPod for a pod that should run: sandbox first, then each container per its
 * restartPolicy with CrashLoopBackOff (a container whose liveness or startup probe failed is killed
 * and restarted here), then the status. Level-based: it reads the runtime every time.
 */
export class PodSync {
  private readonly warnedIsolation = new Set<string>();

  constructor(private readonly opts: PodSyncOptions) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** The pod is gone: forget the isolation warning it got. */
  forget(uid: string): void {
    this.warnedIsolation.delete(uid);
  }

  private async containersOf(uid: string): Promise<RuntimeContainer[]> {
    return (await this.opts.runtime.listContainers()).filter((c) => c.labels[LABEL_POD_UID] === uid);
  }

  /** Returns how soon to look again (a pending back-off), or undefined. */
  async syncPod(pod: Pod): Promise<number | undefined> {
    const uid = pod.metadata!.uid;
    const { runtime, killer } = this.opts;
    const phase = pod.status?.phase;
    const sandboxes = (await runtime.listPodSandboxes()).filter((s) => s.podUid === uid);
    let containers = await this.containersOf(uid);
    if (phase === "Succeeded" || phase === "Failed") {
      for (const c of containers) if (c.state === "RUNNING") await runtime.stopContainer(c.id, 0);
      return undefined;
    }
    const restartPolicy = pod.spec?.restartPolicy || "Always";
    let sandbox: SandboxStatus | undefined = sandboxes
      .filter((s) => s.state === "READY")
      .sort((a, b) => b.createdAt - a.createdAt)[0];
    // Kubernetes' computePodActions: a pod that must never restart and already ran keeps its dead
    // sandbox; its containers are killed and it ends with what they exited with.
    const recreate =
      !sandbox && !(sandboxes.length > 0 && restartPolicy === "Never" && containers.length > 0);
    if (!sandbox && sandboxes.length > 0) {
      // The sandbox died (`docker kill` of it, a node reboot): its containers lost their network
      // namespace, so all of them go and start again in a new sandbox. The old ones stay (stopped)
      // until the pod is deleted: their exits are the restart count and lastState.
      if (recreate)
        await this.opts.recorder.event(
          pod,
          "Normal",
          "SandboxChanged",
          "Pod sandbox changed, it will be killed and re-created.",
        );
      await killer.killContainers(pod, containers, pod.spec?.terminationGracePeriodSeconds ?? 30);
      for (const s of sandboxes) await runtime.stopPodSandbox(s.id);
      containers = await this.containersOf(uid);
    }
    if (recreate) sandbox = await this.createSandbox(pod);
    const podIp = sandbox?.ip ?? "";
    let volumePaths: Map<string, string>;
    try {
      volumePaths = await this.opts.volumes.setUp(pod);
    } catch (err) {
      const message = (err as Error).message;
      await this.opts.recorder.event(pod, "Warning", "FailedMount", message);
      const views: ContainerView[] = (pod.spec?.containers ?? []).map((spec) => ({
        spec,
        attempts: [],
        finished: false,
        waitingReason: { reason: "ContainerCreating", message: "" },
      }));
      await this.writeStatus(pod, views, podIp, sandbox?.state === "READY");
      return 2_000;
    }
    const views: ContainerView[] = [];
    let requeueMs: number | undefined;
    for (const spec of pod.spec?.containers ?? []) {
      const attempts = containers.filter((c) => c.labels[LABEL_CONTAINER_NAME] === spec.name).sort(byAttempt);
      const view: ContainerView = { spec, attempts, finished: false };
      views.push(view);
      let latest = attempts.at(-1);
      const unhealthy = latest?.state === "RUNNING" ? this.opts.probes?.restartReason(latest.id) : undefined;
      if (latest && unhealthy) {
        // Recorded by a probe worker; acted on here, so nothing else touches the pod meanwhile.
        // As Kubernetes: the failed probe's own terminationGracePeriodSeconds wins over the pod's.
        const probe = unhealthy.kind === "liveness" ? spec.livenessProbe : spec.startupProbe;
        const grace = probe?.terminationGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
        await killer.killContainer(pod, latest, grace, podIp, unhealthy.message);
        this.opts.probes?.stop(latest.id);
        latest = (await runtime.listContainers()).find((c) => c.id === latest!.id) ?? latest;
        attempts[attempts.length - 1] = latest;
      }
      if (latest && (latest.state === "RUNNING" || latest.state === "CREATED")) {
        if (latest.state === "CREATED") await this.opts.starter.start(pod, latest.id, spec, view, podIp);
        this.opts.probes?.ensure(pod, spec, latest.id, podIp);
        continue;
      }
      if (latest?.state === "EXITED") {
        const restart =
          restartPolicy === "Always" || (restartPolicy === "OnFailure" && latest.exitCode !== 0);
        if (!restart || !sandbox) {
          view.finished = true;
          continue;
        }
        const key = `${uid}/${spec.name}`;
        const wait = this.opts.backoff.tryRestart(key, this.now(), latest.finishedAt - latest.startedAt);
        if (wait > 0) {
          const delay = Math.round(this.opts.backoff.delay(key) / 1000);
          view.backoffMessage = `back-off ${delay}s restarting failed container=${spec.name} pod=${formatPod(pod)}`;
          await this.opts.recorder.event(
            pod,
            "Warning",
            "BackOff",
            `Back-off restarting failed container ${spec.name} in pod ${formatPod(pod)}`,
          );
          requeueMs = Math.min(requeueMs ?? wait, wait);
          continue;
        }
      }
      if (!sandbox) continue;
      const retry = await this.opts.starter.createAndStart(
        pod,
        sandbox,
        spec,
        attempts.length,
        view,
        podIp,
        volumePaths,
      );
      if (retry !== undefined) requeueMs = Math.min(requeueMs ?? retry, retry);
    }
    const fresh = await this.containersOf(uid);
    for (const v of views)
      v.attempts = fresh.filter((c) => c.labels[LABEL_CONTAINER_NAME] === v.spec.name).sort(byAttempt);
    await this.writeStatus(pod, views, podIp, sandbox?.state === "READY");
    return requeueMs;
  }

  private async createSandbox(pod: Pod): Promise<SandboxStatus | undefined> {
    const { runtime, recorder } = this.opts;
    const uid = pod.metadata!.uid;
    let id: string;
    try {
      id = await runtime.runPodSandbox({
        podUid: uid,
        name: pod.metadata!.name,
        namespace: pod.metadata!.namespace,
        hostname: pod.spec?.hostname || pod.metadata!.name,
        ...this.sandboxDns(pod),
        labels: {
          [LABEL_POD_UID]: uid,
          [LABEL_POD_NAME]: pod.metadata!.name,
          [LABEL_POD_NAMESPACE]: pod.metadata!.namespace,
        },
      });
    } catch (err) {
      // As Kubernetes: an event, and the pod worker retries with its back-off (the throw).
      const message = `Failed to create pod sandbox: ${(err as Error).message}`;
      await recorder.event(pod, "Warning", "FailedCreatePodSandBox", message);
      throw new Error(message);
    }
    if (runtime.isolationWarning && !this.warnedIsolation.has(uid)) {
      this.warnedIsolation.add(uid);
      await recorder.event(pod, "Warning", "NoIsolation", runtime.isolationWarning);
    }
    return (await runtime.listPodSandboxes()).find((s) => s.id === id);
  }

  /** The sandbox's resolv.conf; a ClusterFirst pod without --cluster-dns is told it fell back. */
  private sandboxDns(pod: Pod): { dnsConfig?: NonNullable<ReturnType<typeof sandboxDnsConfig>> } {
    if (!this.opts.dns) return {};
    const dns = this.opts.dns.forPod(pod);
    if (dns.warning)
      void this.opts.recorder
        .event(pod, "Warning", "MissingClusterDNS", `pod: "${formatPod(pod)}". ${dns.warning}`)
        .catch(() => {});
    const dnsConfig = sandboxDnsConfig(dns, pod);
    return dnsConfig ? { dnsConfig } : {};
  }

  private async writeStatus(
    pod: Pod,
    views: ContainerView[],
    podIp: string,
    sandboxReady: boolean,
  ): Promise<void> {
    const probes = this.opts.probes;
    const status = computePodStatus(pod, views, {
      podIp,
      hostIp: this.opts.nodeIp,
      runtime: this.opts.runtime.name,
      now: this.now(),
      sandboxReady,
      probes: probes
        ? (id, spec) => ({
            started: probes.verdict(id, "startup", spec),
            ready: probes.verdict(id, "readiness", spec),
          })
        : undefined,
    });
    if (JSON.stringify(status) === JSON.stringify(pod.status)) return;
    try {
      await this.opts.client.resource<Pod>("pods").updateStatus({ ...pod, status });
    } catch (err) {
      // A newer version exists: the informer brings it and this pod is synced again.
      if (!isConflict(err) && !isNotFound(err)) throw err;
    }
  }
}
