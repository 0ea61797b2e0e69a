import type { Pod } from "@tskube/api";
import type { Client } from "@tskube/client";
import { isConflict, isNotFound } from "@tskube/machinery";
import type { ContainerKiller } from "./container-kill.js";
import { LABEL_POD_UID, type Runtime } from "./runtime/types.js";

/**
 * The grace period a terminating pod gets: the deletion's (the apiserver's word on it), else the
 * pod's own, else Kubernetes' default of 30 s.
 */
export function podGracePeriodSeconds(pod: Pod): number {
  return pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
}

export interface PodTerminatorOptions {
  client: Client;
  runtime: Runtime;
  killer: ContainerKiller;
}

/**
 * The end of a pod on this node, in Kubernetes' three steps: syncTerminatingPod stops the
 * containers gracefully, syncTerminatedPod removes what the runtime holds, and the pod object is
 * then deleted with grace 0 (the status manager's final delete) unless it is already gone.
 */
export class PodTerminator {
  constructor(private readonly opts: PodTerminatorOptions) {}

  /** SIGTERM (after preStop hooks), the grace period, SIGKILL: every running container of the pod. */
  async stopContainers(pod: Pod, gracePeriodSeconds: number): Promise<void> {
    const uid = pod.metadata!.uid;
    const containers = (await this.opts.runtime.listContainers()).filter(
      (c) => c.labels[LABEL_POD_UID] === uid,
    );
    await this.opts.killer.killContainers(pod, containers, gracePeriodSeconds);
  }

  /** Stops and removes every sandbox of a pod uid, and the containers in them. */
  async removeSandboxes(uid: string): Promise<void> {
    const { runtime } = this.opts;
    for (const s of await runtime.listPodSandboxes()) {
      if (s.podUid !== uid) continue;
      await runtime.stopPodSandbox(s.id);
      await runtime.removePodSandbox(s.id);
    }
  }

  /** The final delete: grace 0, and only this incarnation of the name (the uid precondition). */
  async deletePod(pod: Pod): Promise<void> {
    try {
      await this.opts.client.resource<Pod>("pods").delete(pod.metadata!.name, {
        namespace: pod.metadata!.namespace,
        gracePeriodSeconds: 0,
        preconditions: { uid: pod.metadata!.uid },
      });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }
}
