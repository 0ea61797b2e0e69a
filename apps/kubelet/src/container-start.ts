import type { ConfigMap, Container, Pod, Secret } from "@tskube/api";
import type { Client } from "@tskube/client";
import type { EventRecorder } from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { parseQuantity } from "@tskube/machinery";
import { type ContainerKiller, formatPod } from "./container-kill.js";
import { type ImageBackoffOptions, ImageManager, ImagePullBackoff } from "./images.js";
import { runLifecycleHandler } from "./lifecycle.js";
import type { ContainerView } from "./pod-status.js";
import {
  LABEL_ATTEMPT,
  LABEL_CONTAINER_NAME,
  LABEL_POD_NAME,
  LABEL_POD_NAMESPACE,
  LABEL_POD_UID,
  type Runtime,
  type SandboxStatus,
} from "./runtime/types.js";
import { mergeServiceEnv, type ServiceEnv } from "./service-env.js";
import type { VolumeManager } from "./volumes.js";

/**
 * How long a postStart hook may run. Kubernetes sets no bound (the pod's sync waits), which here
 * would hold the pod worker forever on a hook that hangs; two minutes, as the kubelet's runtime
 * request timeout, keeps it bounded.
 */
export const POST_START_TIMEOUT_MS = 120_000;

/** Limits the runtime enforces (Docker: memory and CPU quota). */
export function limits(spec: Container): { cpuMillis?: number; memoryBytes?: number } {
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

export interface ContainerStarterOptions {
  client: Client;
  runtime: Runtime;
  recorder: EventRecorder;
  volumes: VolumeManager;
  killer: ContainerKiller;
  log: Logger;
  nodeIp: string;
  /** Image pull back-off (Kubernetes: 10 s doubling to 5 min). */
  imageBackoff?: ImageBackoffOptions;
  now?: () => number;
  /** Service environment variables for containers (enableServiceLinks). */
  serviceEnv?: ServiceEnv;
  /** A container started and its postStart hook succeeded: its probes begin now. */
  onStarted?(pod: Pod, spec: Container, containerId: string, podIp: string): void;
}

/**
 * Kubernetes' startContainer: the image, the container's config (environment from fields,
 * ConfigMaps, Secrets and Services; mounts; limits), create, start, then the postStart hook.
 */
export class ContainerStarter {
  private readonly images: ImageManager;

  constructor(private readonly opts: ContainerStarterOptions) {
    this.images = new ImageManager({
      images: opts.runtime.images,
      recorder: opts.recorder,
      backoff: new ImagePullBackoff(opts.imageBackoff ?? { initialMs: 10_000, maxMs: 300_000 }),
      ...(opts.now ? { now: opts.now } : {}),
    });
  }

  /** The pod is gone: its image pull back-offs go with it. */
  forget(uid: string): void {
    this.images.forget(uid);
  }

  /** The container's environment, as Kubernetes' makeEnvironmentVariables resolves valueFrom. */
  async resolveEnv(pod: Pod, spec: Container, podIp: string): Promise<{ name: string; value: string }[]> {
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
  async createAndStart(
    pod: Pod,
    sandbox: SandboxStatus,
    spec: Container,
    attempt: number,
    view: ContainerView,
    podIp: string,
    volumePaths: Map<string, string>,
  ): Promise<number | undefined> {
    const { runtime, recorder } = this.opts;
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

  /** Starts a created container and runs its postStart hook. */
  async start(pod: Pod, id: string, spec: Container, view: ContainerView, podIp: string): Promise<void> {
    try {
      await this.opts.runtime.startContainer(id);
      await this.opts.recorder.event(pod, "Normal", "Started", `Started container ${spec.name}`);
    } catch (err) {
      view.waitingReason = { reason: "RunContainerError", message: (err as Error).message };
      await this.opts.recorder.event(pod, "Warning", "Failed", `Error: ${(err as Error).message}`);
      return;
    }
    const postStart = spec.lifecycle?.postStart;
    if (!postStart) {
      this.opts.onStarted?.(pod, spec, id, podIp);
      return;
    }
    // As Kubernetes: the pod's sync waits for the hook; a failed hook kills the container, which
    // then restarts per its restartPolicy.
    const graceSeconds = pod.spec?.terminationGracePeriodSeconds ?? 30;
    try {
      await runLifecycleHandler(
        postStart,
        { pod, container: spec, containerId: id, podIp, runtime: this.opts.runtime },
        { signal: AbortSignal.timeout(POST_START_TIMEOUT_MS), timeoutMs: POST_START_TIMEOUT_MS },
      );
      this.opts.onStarted?.(pod, spec, id, podIp);
    } catch (err) {
      this.opts.log.warn(
        { pod: formatPod(pod), container: spec.name, err: (err as Error).message },
        "PostStart hook failed",
      );
      await this.opts.recorder.event(pod, "Warning", "FailedPostStartHook", "PostStartHook failed");
      view.waitingReason = { reason: "PostStartHookError", message: (err as Error).message };
      const c = (await this.opts.runtime.listContainers()).find((x) => x.id === id);
      if (c) await this.opts.killer.killContainer(pod, c, graceSeconds, podIp, "FailedPostStartHook");
    }
  }
}
