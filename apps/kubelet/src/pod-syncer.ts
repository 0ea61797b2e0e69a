import type { ConfigMap, Container, Pod, Secret } from "@tskube/api";
import type { Client } from "@tskube/client";
import type { EventRecorder } from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { isConflict, isNotFound, parseQuantity } from "@tskube/machinery";
import type { RestartBackoff } from "./backoff.js";
import { type DnsConfigurer, sandboxDnsConfig } from "./dns-config.js";
import { type ImageBackoffOptions, ImageManager, ImagePullBackoff } from "./images.js";
import { runLifecycleHandler } from "./lifecycle.js";
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
import { mergeServiceEnv, type ServiceEnv } from "./service-env.js";
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

/** Limits the runtime enforces (Docker: memory and CPU quota). */
function limits(spec: Container): { cpuMillis?: number; memoryBytes?: number } {
  const out: { cpuMillis?: number; memoryBytes?: number } = {};
  const lim = spec.resources?.limits ?? {};
  try {
    if (lim.cpu) out.cpuMillis = parseQuantity(lim.cpu).milliValue();
    if (lim.memory) out.memoryBytes = parseQuantity(lim.memory).value();
  } catch {
    // validated by the apiserver; an unparsable value here just means no limit
  }
  return out;
}

/**
 * How long a postStart hook may run. Kubernetes sets no bound (the pod's sync waits), which here
 * would hold the pod worker forever on a hook that hangs; two minutes, as the kubelet's runtime
 * request timeout, keeps it bounded.
 */
export const POST_START_TIMEOUT_MS = 120_000;

/** Kubernetes' minimumGracePeriodInSeconds: SIGTERM always gets this long after a preStop hook. */
export const MIN_GRACE_AFTER_HOOK_SECONDS = 2;

const podName = (pod: Pod) => `${pod.metadata!.name}_${pod.metadata!.namespace}(${pod.metadata!.uid})`;

/**
 * One pass of the kubelet's syncPod for one pod: sandbox first, then each container per its
 * restartPolicy with CrashLoopBackOff, then the status. Returns how soon to look again (a pending
 * back-off), or undefined. Level-based: it reads the runtime every time.
 */
export class PodSyncer {
  private warnedIsolation = new Set<string>();
  private readonly images: ImageManager;

  constructor(private readonly opts: PodSyncerOptions) {
    this.images = new ImageManager({
      images: opts.runtime.images,
      recorder: opts.recorder,
      backoff: new ImagePullBackoff(opts.imageBackoff ?? { initialMs: 10_000, maxMs: 300_000 }),
      ...(opts.now ? { now: opts.now } : {}),
    });
  }

  /** The sandbox's resolv.conf; a ClusterFirst pod without --cluster-dns is told it fell back. */
  private sandboxDns(pod: Pod): { dnsConfig?: NonNullable<ReturnType<typeof sandboxDnsConfig>> } {
    if (!this.opts.dns) return {};
    const dns = this.opts.dns.forPod(pod);
    if (dns.warning)
      void this.opts.recorder
        .event(pod, "Warning", "MissingClusterDNS", `pod: "${podName(pod)}". ${dns.warning}`)
        .catch(() => {});
    const dnsConfig = sandboxDnsConfig(dns, pod);
    return dnsConfig ? { dnsConfig } : {};
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  async sync(pod: Pod): Promise<number | undefined> {
    const uid = pod.metadata!.uid;
    const { runtime } = this.opts;
    if (pod.metadata!.deletionTimestamp) {
      await this.terminate(pod);
      return undefined;
    }
    const phase = pod.status?.phase;
    const sandboxes = (await runtime.listPodSandboxes()).filter((s) => s.podUid === uid);
    let containers = (await runtime.listContainers()).filter((c) => c.labels[LABEL_POD_UID] === uid);
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
      await this.killContainers(pod, containers);
      for (const s of sandboxes) await runtime.stopPodSandbox(s.id);
      containers = (await runtime.listContainers()).filter((c) => c.labels[LABEL_POD_UID] === uid);
    }
    if (recreate) {
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
        await this.opts.recorder.event(pod, "Warning", "FailedCreatePodSandBox", message);
        throw new Error(message);
      }
      sandbox = (await runtime.listPodSandboxes()).find((s) => s.id === id);
      if (runtime.isolationWarning && !this.warnedIsolation.has(uid)) {
        this.warnedIsolation.add(uid);
        await this.opts.recorder.event(pod, "Warning", "NoIsolation", runtime.isolationWarning);
      }
    }
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
      const attempts = containers
        .filter((c) => c.labels[LABEL_CONTAINER_NAME] === spec.name)
        .sort((a, b) => Number(a.labels[LABEL_ATTEMPT]) - Number(b.labels[LABEL_ATTEMPT]));
      const view: ContainerView = { spec, attempts, finished: false };
      views.push(view);
      const latest = attempts.at(-1);
      if (latest && (latest.state === "RUNNING" || latest.state === "CREATED")) {
        if (latest.state === "CREATED") await this.start(pod, latest.id, spec, view, podIp);
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
          view.backoffMessage = `back-off ${delay}s restarting failed container=${spec.name} pod=${podName(pod)}`;
          await this.opts.recorder.event(
            pod,
            "Warning",
            "BackOff",
            `Back-off restarting failed container ${spec.name} in pod ${podName(pod)}`,
          );
          requeueMs = Math.min(requeueMs ?? wait, wait);
          continue;
        }
      }
      if (!sandbox) continue;
      const retry = await this.createAndStart(pod, sandbox, spec, attempts.length, view, podIp, volumePaths);
      if (retry !== undefined) requeueMs = Math.min(requeueMs ?? retry, retry);
    }
    const fresh = (await runtime.listContainers()).filter((c) => c.labels[LABEL_POD_UID] === uid);
    for (const v of views) {
      v.attempts = fresh
        .filter((c) => c.labels[LABEL_CONTAINER_NAME] === v.spec.name)
        .sort((a, b) => Number(a.labels[LABEL_ATTEMPT]) - Number(b.labels[LABEL_ATTEMPT]));
    }
    await this.writeStatus(pod, views, podIp, sandbox?.state === "READY");
    return requeueMs;
  }

  private async resolveEnv(
    pod: Pod,
    spec: Container,
    podIp: string,
  ): Promise<{ name: string; value: string }[]> {
    const out: { name: string; value: string }[] = [];
    for (const e of spec.env) {
      const from = e.valueFrom;
      if (!from) {
        out.push({ name: e.name, value: e.value });
        continue;
      }
      if (from.fieldRef) {
        const fields: Record<string, string> = {
          "metadata.name": pod.metadata!.name,
          "metadata.namespace": pod.metadata!.namespace,
          "metadata.uid": pod.metadata!.uid,
          "spec.nodeName": pod.spec?.nodeName ?? "",
          "spec.serviceAccountName": pod.spec?.serviceAccountName ?? "",
          "status.podIP": podIp,
          "status.hostIP": this.opts.nodeIp,
        };
        out.push({ name: e.name, value: fields[from.fieldRef.fieldPath] ?? "" });
      } else if (from.configMapKeyRef) {
        const ref = from.configMapKeyRef;
        const cm = await this.opts.client
          .resource<ConfigMap>("configmaps")
          .get(ref.name, { namespace: pod.metadata!.namespace });
        const v = cm.data[ref.key];
        if (v === undefined && !ref.optional)
          throw new Error(`couldn't find key ${ref.key} in ConfigMap ${pod.metadata!.namespace}/${ref.name}`);
        if (v !== undefined) out.push({ name: e.name, value: v });
      } else if (from.secretKeyRef) {
        const ref = from.secretKeyRef;
        const s = await this.opts.client
          .resource<Secret>("secrets")
          .get(ref.name, { namespace: pod.metadata!.namespace });
        const v = s.data[ref.key];
        if (v === undefined && !ref.optional)
          throw new Error(`couldn't find key ${ref.key} in Secret ${pod.metadata!.namespace}/${ref.name}`);
        if (v !== undefined) out.push({ name: e.name, value: Buffer.from(v).toString() });
      }
    }
    return out;
  }

  /** Creates and starts one attempt; returns when to try again if the image is not there yet. */
  private async createAndStart(
    pod: Pod,
    sandbox: SandboxStatus,
    spec: Container,
    attempt: number,
    view: ContainerView,
    podIp: string,
    volumePaths: Map<string, string>,
  ): Promise<number | undefined> {
    const { runtime, recorder } = this.opts;
    // As Kubernetes' startContainer: the image first, then the container's config.
    const pull = await this.images.ensureImageExists(pod, spec);
    if (pull) {
      view.waitingReason = { reason: pull.reason, message: pull.message };
      await recorder.event(pod, "Warning", "Failed", `Error: ${pull.reason}`);
      return pull.retryAfterMs;
    }
    let env: { name: string; value: string }[];
    try {
      env = mergeServiceEnv(await this.resolveEnv(pod, spec, podIp), this.opts.serviceEnv?.forPod(pod) ?? []);
    } catch (err) {
      const message = (err as Error).message;
      view.waitingReason = { reason: "CreateContainerConfigError", message };
      await recorder.event(pod, "Warning", "Failed", `Error: ${message}`);
      return undefined;
    }
    let id: string;
    try {
      id = await runtime.createContainer(sandbox.id, {
        name: spec.name,
        image: spec.image,
        command: spec.command,
        args: spec.args,
        env,
        workingDir: spec.workingDir,
        mounts: this.opts.volumes.mountsFor(spec, volumePaths),
        ...limits(spec),
        labels: {
          [LABEL_POD_UID]: pod.metadata!.uid,
          [LABEL_POD_NAME]: pod.metadata!.name,
          [LABEL_POD_NAMESPACE]: pod.metadata!.namespace,
          [LABEL_CONTAINER_NAME]: spec.name,
          [LABEL_ATTEMPT]: String(attempt),
        },
      });
    } catch (err) {
      view.waitingReason = { reason: "CreateContainerError", message: (err as Error).message };
      await recorder.event(pod, "Warning", "Failed", `Error: ${(err as Error).message}`);
      return undefined;
    }
    await recorder.event(pod, "Normal", "Created", `Created container ${spec.name}`);
    await this.start(pod, id, spec, view, podIp);
    return undefined;
  }

  private async start(
    pod: Pod,
    id: string,
    spec: Container,
    view: ContainerView,
    podIp: string,
  ): Promise<void> {
    try {
      await this.opts.runtime.startContainer(id);
      await this.opts.recorder.event(pod, "Normal", "Started", `Started container ${spec.name}`);
    } catch (err) {
      view.waitingReason = { reason: "RunContainerError", message: (err as Error).message };
      await this.opts.recorder.event(pod, "Warning", "Failed", `Error: ${(err as Error).message}`);
      return;
    }
    const postStart = spec.lifecycle?.postStart;
    if (!postStart) return;
    // As Kubernetes' startContainer: the hook runs right after the start and the pod's sync waits
    // for it; a failed hook kills the container, which then restarts per its restartPolicy.
    const graceSeconds = pod.spec?.terminationGracePeriodSeconds ?? 30;
    try {
      await runLifecycleHandler(
        postStart,
        { pod, container: spec, containerId: id, podIp, runtime: this.opts.runtime },
        { signal: AbortSignal.timeout(POST_START_TIMEOUT_MS), timeoutMs: POST_START_TIMEOUT_MS },
      );
    } catch (err) {
      this.opts.log.warn(
        { pod: podName(pod), container: spec.name, err: (err as Error).message },
        "PostStart hook failed",
      );
      await this.opts.recorder.event(pod, "Warning", "FailedPostStartHook", "PostStartHook failed");
      view.waitingReason = { reason: "PostStartHookError", message: (err as Error).message };
      const c = (await this.opts.runtime.listContainers()).find((x) => x.id === id);
      if (c) await this.killContainer(pod, c, graceSeconds, podIp, "FailedPostStartHook");
    }
  }

  private async writeStatus(
    pod: Pod,
    views: ContainerView[],
    podIp: string,
    sandboxReady: boolean,
  ): Promise<void> {
    const pods = this.opts.client.resource<Pod>("pods");
    const status = computePodStatus(pod, views, {
      podIp,
      hostIp: this.opts.nodeIp,
      runtime: this.opts.runtime.name,
      now: this.now(),
      sandboxReady,
      probes: this.opts.probes
        ? (id, spec) => ({
            started: this.opts.probes!.verdict(id, "startup", spec),
            ready: this.opts.probes!.verdict(id, "readiness", spec),
          })
        : undefined,
    });
    if (JSON.stringify(status) === JSON.stringify(pod.status)) return;
    try {
      await pods.updateStatus({ ...pod, status });
    } catch (err) {
      // A newer version exists: the informer brings it and this pod is synced again.
      if (!isConflict(err) && !isNotFound(err)) throw err;
    }
  }

  /** Stops a pod's running containers in parallel, each with the pod's grace period. */
  private async killContainers(pod: Pod, containers: RuntimeContainer[]): Promise<void> {
    const grace = pod.metadata!.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
    const running = containers.filter((c) => c.state === "RUNNING");
    if (running.length === 0) return;
    // The preStop httpGet default host: the pod's address, from its status or its sandbox.
    const sandboxIp = pod.status?.podIp
      ? ""
      : ((await this.opts.runtime.listPodSandboxes()).find((s) => s.id === running[0]!.sandboxId)?.ip ?? "");
    const podIp = pod.status?.podIp || sandboxIp;
    await Promise.all(running.map((c) => this.killContainer(pod, c, grace, podIp)));
  }

  /**
   * Kubernetes' killContainer: the preStop hook first, bounded by the grace period, then SIGTERM
   * with what is left of it before SIGKILL. A hook that used up the grace period still leaves the
   * container a short window (Kubernetes' one-off 2 s extension), so it is not killed unwarned.
   */
  async killContainer(
    pod: Pod,
    c: RuntimeContainer,
    graceSeconds: number,
    podIp: string,
    message?: string,
  ): Promise<void> {
    const name = c.labels[LABEL_CONTAINER_NAME] || c.name;
    const spec = pod.spec?.containers.find((s) => s.name === name);
    await this.opts.recorder.event(pod, "Normal", "Killing", message ?? `Stopping container ${name}`);
    let remaining = graceSeconds;
    const preStop = spec?.lifecycle?.preStop;
    if (spec && preStop && graceSeconds > 0) {
      const started = this.now();
      const graceUp = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<"expired">((resolve) => {
        timer = setTimeout(() => resolve("expired"), graceSeconds * 1000);
      });
      const hook = runLifecycleHandler(
        preStop,
        { pod, container: spec, containerId: c.id, podIp, runtime: this.opts.runtime },
        { signal: graceUp.signal, timeoutMs: graceSeconds * 1000 },
      ).then(
        () => undefined,
        (err: Error) => err,
      );
      const outcome = await Promise.race([hook, expired]);
      clearTimeout(timer);
      graceUp.abort();
      if (outcome === "expired") {
        this.opts.log.info(
          { pod: podName(pod), container: name, graceSeconds },
          "PreStop hook not completed in grace period",
        );
      } else if (outcome) {
        // As Kubernetes: the event says only that it failed (a hook's output may hold secrets).
        this.opts.log.warn(
          { pod: podName(pod), container: name, err: outcome.message },
          "PreStop hook failed",
        );
        await this.opts.recorder.event(pod, "Warning", "FailedPreStopHook", "PreStopHook failed");
      }
      remaining = Math.max(
        MIN_GRACE_AFTER_HOOK_SECONDS,
        graceSeconds - Math.floor((this.now() - started) / 1000),
      );
    }
    await this.opts.runtime.stopContainer(c.id, remaining);
  }

  /** Graceful stop: SIGTERM, the grace period, SIGKILL; then the pod object is removed. */
  async terminate(pod: Pod): Promise<void> {
    const uid = pod.metadata!.uid;
    await this.killContainers(
      pod,
      (await this.opts.runtime.listContainers()).filter((c) => c.labels[LABEL_POD_UID] === uid),
    );
    await this.cleanup(uid);
    try {
      await this.opts.client.resource<Pod>("pods").delete(pod.metadata!.name, {
        namespace: pod.metadata!.namespace,
        gracePeriodSeconds: 0,
        preconditions: { uid },
      });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  /** Removes everything the runtime holds for a pod uid. */
  async cleanup(uid: string): Promise<void> {
    const { runtime } = this.opts;
    for (const s of await runtime.listPodSandboxes()) {
      if (s.podUid !== uid) continue;
      await runtime.stopPodSandbox(s.id);
      await runtime.removePodSandbox(s.id);
    }
    this.opts.backoff.forget(`${uid}/`);
    this.images.forget(uid);
    this.opts.volumes.tearDown(uid);
    this.warnedIsolation.delete(uid);
  }

  /** Containers of one pod as the runtime reports them (for logs). */
  async containersOf(uid: string): Promise<RuntimeContainer[]> {
    return (await this.opts.runtime.listContainers()).filter((c) => c.labels[LABEL_POD_UID] === uid);
  }
}
