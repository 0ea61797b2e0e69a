import type { Pod } from "@tskube/api";
import { type Clock, Controller, type ControllerMetrics, realClock } from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { podGracePeriodSeconds } from "./pod-terminate.js";

/** What a pod's worker runs: Kubernetes' syncPod, syncTerminatingPod, syncTerminatedPod. */
export interface PodSyncFuncs {
  /** A pod that should run; returns how soon to look again (a pending back-off), or undefined. */
  syncPod(pod: Pod): Promise<number | undefined>;
  /** Stops every container of the pod within the grace period. */
  syncTerminatingPod(pod: Pod, gracePeriodSeconds: number): Promise<void>;
  /** Removes what the runtime and the node hold for the pod. */
  syncTerminatedPod(uid: string): Promise<void>;
  /** The final delete of the pod object (grace 0). */
  deletePod(pod: Pod): Promise<void>;
}

/** Kubernetes' podSyncStatus: what the handlers last saw of a pod, and how far its end has gone. */
interface PodSyncStatus {
  /** The latest object seen; undefined for a pod known only from the runtime (an orphan). */
  pod: Pod | undefined;
  /** The object is gone from the API. */
  deleted: boolean;
  /** Set once termination starts; a terminating pod never runs again. */
  gracePeriodSeconds?: number;
  /** The containers are stopped (syncTerminatingPod done). */
  containersStopped: boolean;
  /** The runtime's sandboxes and the pod's volumes are gone (syncTerminatedPod done). */
  terminated: boolean;
}

export interface PodWorkersOptions {
  sync: PodSyncFuncs;
  workers: number;
  log: Logger;
  clock?: Clock;
  /** The process's workqueue and reconcile metrics: the pod workers report as "pod-workers". */
  metrics?: ControllerMetrics;
}

/**
 * Kubernetes' podWorkers: one worker per pod at a time. Informer handlers, probe results and the
 * runtime relist only record what they saw here and enqueue the pod's uid; the pod's worker alone
 * starts, restarts and kills its containers. A pod's uid is never worked on twice at once (the
 * work queue's processing set), and updates that arrive during a pass collapse into one more pass
 * after it. Keyed by uid, as Kubernetes' are, so a pod whose object is already gone can still be
 * ended gracefully, and a new pod reusing the name is a different worker.
 */
export class PodWorkers {
  private readonly statuses = new Map<string, PodSyncStatus>();
  private readonly controller: Controller;

  constructor(private readonly opts: PodWorkersOptions) {
    this.controller = new Controller({
      name: "pod-workers",
      workers: opts.workers,
      log: opts.log,
      clock: opts.clock ?? realClock,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
      reconcile: async (uid) => {
        const after = await this.work(uid);
        return after === undefined ? undefined : { requeueAfterMs: after };
      },
    });
  }

  /** The pod was added or changed (Kubernetes' UpdatePod with SyncPodUpdate or SyncPodKill). */
  updatePod(pod: Pod): void {
    const uid = pod.metadata!.uid;
    const s = this.statuses.get(uid);
    if (!s) this.statuses.set(uid, { pod, deleted: false, containersStopped: false, terminated: false });
    else {
      s.pod = pod;
      // A grace period only shortens (the apiserver's later, shorter deletion), as Kubernetes'
      // calculateEffectiveGracePeriod; it applies to containers not yet stopped.
      const grace = pod.metadata?.deletionGracePeriodSeconds;
      if (s.gracePeriodSeconds !== undefined && grace !== undefined && grace < s.gracePeriodSeconds)
        s.gracePeriodSeconds = grace;
    }
    this.controller.enqueue(uid);
  }

  /** The pod's object is gone from the API: its worker ends it, gracefully, with what was last seen. */
  removePod(pod: Pod): void {
    const uid = pod.metadata!.uid;
    const s = this.statuses.get(uid);
    if (s) s.deleted = true;
    else this.statuses.set(uid, { pod, deleted: true, containersStopped: false, terminated: false });
    this.controller.enqueue(uid);
  }

  /**
   * The runtime holds a pod no worker knows (deleted while this kubelet was away): its worker
   * removes it. Pods a worker knows are left to it.
   */
  removeOrphan(uid: string): void {
    if (this.statuses.has(uid)) return;
    this.statuses.set(uid, { pod: undefined, deleted: true, containersStopped: true, terminated: false });
    this.controller.enqueue(uid);
  }

  /** Something about a known pod changed (a probe verdict, a container's state): sync it again. */
  enqueue(uid: string): void {
    if (this.statuses.has(uid)) this.controller.enqueue(uid);
  }

  /** Whether a worker knows the pod (it runs or is still being ended). */
  knows(uid: string): boolean {
    return this.statuses.has(uid);
  }

  run(signal: AbortSignal): Promise<void> {
    return this.controller.run(signal);
  }

  /** One pass of a pod's worker: sync it, or carry its termination on from where it stands. */
  private async work(uid: string): Promise<number | undefined> {
    const s = this.statuses.get(uid);
    if (!s) return undefined;
    const { sync } = this.opts;
    if (s.gracePeriodSeconds === undefined && (s.deleted || s.pod?.metadata?.deletionTimestamp))
      s.gracePeriodSeconds = s.pod ? podGracePeriodSeconds(s.pod) : 0;
    if (s.gracePeriodSeconds === undefined) return sync.syncPod(s.pod!);
    if (!s.containersStopped) {
      await sync.syncTerminatingPod(s.pod!, s.gracePeriodSeconds);
      s.containersStopped = true;
    }
    if (!s.terminated) {
      await sync.syncTerminatedPod(uid);
      s.terminated = true;
    }
    // The object's own DELETED event ends the record: until then a worker knows the pod, so the
    // runtime's housekeeping leaves it alone.
    if (s.deleted) this.statuses.delete(uid);
    else if (s.pod) await sync.deletePod(s.pod);
    return undefined;
  }
}
