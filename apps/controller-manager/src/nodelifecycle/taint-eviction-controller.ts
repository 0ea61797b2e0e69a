import { type Node, objectKey, type Pod, PodCondition, type Taint, type Toleration } from "@tskube/api";
import type { ResourceClient } from "@tskube/client";
import {
  type Clock,
  type Controller,
  type EventRecorder,
  type Informer,
  newControllerManagedBy,
} from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { isNotFound } from "@tskube/machinery";
import type { ControllerContext, RunnableController } from "../context.js";
import { NODE_NAME_INDEX } from "../indexers.js";
import { rfc3339 } from "../pod-util.js";
import { splitKey } from "../replicaset/replicaset-controller.js";
import { noExecuteTaints, tolerates } from "./taints.js";

interface ScheduledEviction {
  uid: string;
  /** When the pod first became subject to eviction: later changes re-time from here. */
  createdAt: number;
  fireAt: number;
}

/**
 * getMatchingTolerations + getMinTolerationTime: whether every NoExecute taint is tolerated, and
 * for how long (-1: forever, 0: not at all). The shortest tolerationSeconds of the tolerations in
 * use wins; a toleration without one tolerates forever.
 */
export function minTolerationMs(taints: readonly Taint[], tolerations: readonly Toleration[]): number {
  const used: Toleration[] = [];
  for (const taint of taints) {
    const t = tolerations.find((x) => tolerates(x, taint));
    if (!t) return 0;
    used.push(t);
  }
  let min = Number.POSITIVE_INFINITY;
  for (const t of used) {
    if (t.tolerationSeconds === undefined) continue;
    if (t.tolerationSeconds <= 0) return 0;
    min = Math.min(min, t.tolerationSeconds * 1000);
  }
  return min === Number.POSITIVE_INFINITY ? -1 : min;
}

/**
 * Kubernetes' taint eviction controller (the NoExecuteTaintManager): a pod on a node with a
 * NoExecute taint it does not tolerate is deleted at once; one that tolerates it for
 * tolerationSeconds is deleted when that runs out, counted from when the taint was first seen on
 * its node, and spared if the taint goes away first.
 */
export class TaintEvictionController implements RunnableController {
  readonly controller: Controller;
  readonly nodes: Informer<Node>;
  readonly pods: Informer<Pod>;
  private readonly podClient: ResourceClient<Pod>;
  private readonly recorder: EventRecorder;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly scheduled = new Map<string, ScheduledEviction>();

  constructor(ctx: ControllerContext, opts: { workers?: number } = {}) {
    this.clock = ctx.clock;
    this.log = ctx.log;
    this.podClient = ctx.client.resource<Pod>("pods");
    this.recorder = ctx.recorder("taint-eviction-controller");
    this.nodes = ctx.informers.informerFor<Node>("nodes");
    this.pods = ctx.informers.informerFor<Pod>("pods");
    const taintsOf = (n: Node) => JSON.stringify(noExecuteTaints(n));
    this.controller = newControllerManagedBy(ctx)
      .named("taint-eviction-controller")
      .for(this.pods, {
        predicates: [
          {
            update: (o, p) =>
              o.spec?.nodeName !== p.spec?.nodeName ||
              JSON.stringify(o.spec?.tolerations) !== JSON.stringify(p.spec?.tolerations) ||
              !!o.metadata?.deletionTimestamp !== !!p.metadata?.deletionTimestamp,
          },
        ],
      })
      // A node's NoExecute taints concern every pod on it.
      .watches(this.nodes, (n) => this.pods.store.byIndex(NODE_NAME_INDEX, n.metadata!.name).map(objectKey), {
        predicates: [
          {
            create: (n) => noExecuteTaints(n).length > 0,
            update: (o, n) => taintsOf(o) !== taintsOf(n),
          },
        ],
      })
      // Kubernetes' UpdateWorkerSize.
      .withOptions({ workers: opts.workers ?? 8 })
      .complete((key) => this.sync(key));
  }

  run(signal: AbortSignal): Promise<void> {
    return this.controller.run(signal);
  }

  /** processPodOnNode for the pod `namespace/name`. */
  async sync(key: string): Promise<{ requeueAfterMs: number } | undefined> {
    const [namespace, name] = splitKey(key);
    const pod = this.pods.lister.get(namespace, name);
    const nodeName = pod?.spec?.nodeName;
    if (!pod || !nodeName || pod.metadata?.deletionTimestamp) {
      // Gone or already going: nothing left to evict.
      this.scheduled.delete(key);
      return undefined;
    }
    const taints = noExecuteTaints(this.nodes.lister.get("", nodeName));
    if (taints.length === 0) {
      this.cancel(pod);
      return undefined;
    }
    const toleration = minTolerationMs(taints, pod.spec?.tolerations ?? []);
    if (toleration < 0) {
      this.cancel(pod);
      return undefined;
    }
    const now = this.clock.now();
    let s = this.scheduled.get(key);
    if (s && s.uid !== pod.metadata!.uid) s = undefined;
    const createdAt = s?.createdAt ?? now;
    const fireAt = createdAt + toleration;
    if (fireAt > now) {
      this.scheduled.set(key, { uid: pod.metadata!.uid, createdAt, fireAt });
      return { requeueAfterMs: fireAt - now };
    }
    await this.evict(pod);
    this.scheduled.delete(key);
    return undefined;
  }

  private cancel(pod: Pod): void {
    const key = objectKey(pod);
    if (!this.scheduled.delete(key)) return;
    void this.recorder.event(pod, "Normal", "TaintManagerEviction", `Cancelling deletion of Pod ${key}`);
  }

  /**
   * deletePodHandler: says why (the DisruptionTarget condition, as Kubernetes 1.26+), then deletes
   * with the pod's uid as precondition so that a new pod of the same name is never hit.
   */
  private async evict(pod: Pod): Promise<void> {
    const key = objectKey(pod);
    const m = pod.metadata!;
    this.log.info({ pod: key, node: pod.spec?.nodeName }, "evicting pod from tainted node");
    void this.recorder.event(pod, "Normal", "TaintManagerEviction", `Marking for deletion Pod ${key}`);
    try {
      const conditions = [
        ...(pod.status?.conditions ?? []).filter((c) => c.type !== "DisruptionTarget"),
        PodCondition.fromPartial({
          type: "DisruptionTarget",
          status: "True",
          reason: "DeletionByTaintManager",
          message: "Taint manager: deleting due to NoExecute taint",
          lastTransitionTime: rfc3339(this.clock.now()),
        }),
      ];
      await this.podClient.updateStatus({ ...pod, status: { ...pod.status!, conditions } });
      await this.podClient.delete(m.name, { namespace: m.namespace, preconditions: { uid: m.uid } });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }

  /** For tests: when the pod `namespace/name` is due to be evicted. */
  evictionTime(key: string): number | undefined {
    return this.scheduled.get(key)?.fireAt;
  }
}
