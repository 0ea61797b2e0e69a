import type { Pod } from "@tskube/api";
import type { EventRecorder } from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { runLifecycleHandler } from "./lifecycle.js";
import {
  LABEL_CONTAINER_NAME,
  type Runtime,
  type ContainerStatus as RuntimeContainer,
} from "./runtime/types.js";

/** Kubernetes' minimumGracePeriodInSeconds: SIGTERM always gets this long after a preStop hook. */
export const MIN_GRACE_AFTER_HOOK_SECONDS = 2;

/** Kubernetes' format.Pod: how the kubelet names a pod in messages. */
export const formatPod = (pod: Pod) =>
  `${pod.metadata!.name}_${pod.metadata!.namespace}(${pod.metadata!.uid})`;

export interface ContainerKillerOptions {
  runtime: Runtime;
  recorder: EventRecorder;
  log: Logger;
  now?: () => number;
}

/**
 * Kubernetes' killContainer and killContainersWithSyncResult: how one container, or all of a pod's,
 * are stopped. Only the pod's worker calls these (a sync that restarts a container, a termination).
 */
export class ContainerKiller {
  constructor(private readonly opts: ContainerKillerOptions) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** Stops a pod's running containers in parallel, each with graceSeconds. */
  async killContainers(pod: Pod, containers: RuntimeContainer[], graceSeconds: number): Promise<void> {
    const running = containers.filter((c) => c.state === "RUNNING");
    if (running.length === 0) return;
    // The preStop httpGet default host: the pod's address, from its status or its sandbox.
    const sandboxIp = pod.status?.podIp
      ? ""
      : ((await this.opts.runtime.listPodSandboxes()).find((s) => s.id === running[0]!.sandboxId)?.ip ?? "");
    const podIp = pod.status?.podIp || sandboxIp;
    await Promise.all(running.map((c) => this.killContainer(pod, c, graceSeconds, podIp)));
  }

  /**
   * The preStop hook first, bounded by the grace period, then SIGTERM with what is left of it
   * before SIGKILL. A hook that used up the grace period still leaves the container a short window
   * (Kubernetes' one-off 2 s extension), so it is not killed unwarned.
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
          { pod: formatPod(pod), container: name, graceSeconds },
          "PreStop hook not completed in grace period",
        );
      } else if (outcome) {
        // As Kubernetes: the event says only that it failed (a hook's output may hold secrets).
        this.opts.log.warn(
          { pod: formatPod(pod), container: name, err: outcome.message },
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
}
