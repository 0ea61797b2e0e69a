import { objectKey, Pod, type ReplicaSet } from "@tskube/api";
import type { ResourceClient } from "@tskube/client";
import {
  type Clock,
  type Controller,
  type EventRecorder,
  type Informer,
  type Lister,
  newControllerManagedBy,
} from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { isConflict, isNotFound, type Selector, selectorFromLabelSelector } from "@tskube/machinery";
import type { ControllerContext, RunnableController } from "../context.js";
import { claimObjects, recheckOwner } from "../controller-ref-manager.js";
import { ControllerExpectations } from "../expectations.js";
import { CONTROLLER_UID_INDEX, ORPHAN_INDEX } from "../indexers.js";
import { controllerRefOf, isPodActive, isPodReady } from "../pod-util.js";
import { slowStartBatch } from "../slow-start.js";
import { calculateStatus, sameStatus } from "./status.js";
import { podsToDelete } from "./victims.js";

/** Kubernetes' BurstReplicas: at most this many pods are created or deleted in one sync. */
export const BURST_REPLICAS = 500;
/** The first slow-start batch (controller.SlowStartInitialBatchSize). */
export const SLOW_START_INITIAL_BATCH = 1;

export interface ReplicaSetControllerOptions {
  workers?: number;
  burstReplicas?: number;
}

/**
 * Kubernetes' ReplicaSet controller: keeps spec.replicas active pods matching the selector. Pods
 * it controls that stop matching are released, orphans that match are adopted; creations and
 * deletions are guarded by expectations so that a cache that has not seen them yet cannot cause a
 * second round; status reports what the cache holds.
 */
export class ReplicaSetController implements RunnableController {
  readonly controller: Controller;
  readonly expectations: ControllerExpectations;
  readonly replicaSets: Informer<ReplicaSet>;
  readonly pods: Informer<Pod>;
  private readonly rsLister: Lister<ReplicaSet>;
  private readonly rsClient: ResourceClient<ReplicaSet>;
  private readonly podClient: ResourceClient<Pod>;
  private readonly recorder: EventRecorder;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly burst: number;

  constructor(ctx: ControllerContext, opts: ReplicaSetControllerOptions = {}) {
    this.clock = ctx.clock;
    this.log = ctx.log;
    this.burst = opts.burstReplicas ?? BURST_REPLICAS;
    this.expectations = new ControllerExpectations(ctx.clock);
    this.rsClient = ctx.client.resource<ReplicaSet>("replicasets");
    this.podClient = ctx.client.resource<Pod>("pods");
    this.recorder = ctx.recorder("replicaset-controller");
    this.replicaSets = ctx.informers.informerFor<ReplicaSet>("replicasets");
    this.pods = ctx.informers.informerFor<Pod>("pods");
    this.rsLister = this.replicaSets.lister;
    // Pod events are more than a mapping to their owner: they observe the expectations, and an
    // orphan enqueues every ReplicaSet that may adopt it.
    this.controller = newControllerManagedBy(ctx)
      .named("replicaset")
      .for(this.replicaSets)
      .watches(this.replicaSets, { onDelete: (rs) => this.expectations.delete(objectKey(rs)) })
      .watches(this.pods, {
        onAdd: (p) => this.addPod(p),
        onUpdate: (o, p) => this.updatePod(o, p),
        onDelete: (p) => this.deletePod(p),
      })
      .withOptions({ workers: opts.workers ?? 5 })
      .complete((key) => this.sync(key));
  }

  run(signal: AbortSignal): Promise<void> {
    return this.controller.run(signal);
  }

  /** The ReplicaSet a controllerRef names, if the cache has that very object (same uid). */
  private resolve(namespace: string, pod: Pod): ReplicaSet | undefined {
    const ref = controllerRefOf(pod);
    if (ref?.kind !== "ReplicaSet") return undefined;
    const rs = this.rsLister.get(namespace, ref.name);
    return rs?.metadata?.uid === ref.uid ? rs : undefined;
  }

  /** ReplicaSets whose selector matches an orphan pod: candidates to adopt it. */
  private matchingReplicaSets(pod: Pod): ReplicaSet[] {
    const labels = pod.metadata?.labels ?? {};
    return this.rsLister.list(pod.metadata?.namespace ?? "").filter((rs) => {
      const sel = safeSelector(rs);
      return sel && !sel.empty() && sel.matches(labels);
    });
  }

  addPod(pod: Pod): void {
    if (pod.metadata?.deletionTimestamp) {
      // A restarted controller can see a pod already being deleted as an add.
      this.deletePod(pod);
      return;
    }
    if (controllerRefOf(pod)) {
      const rs = this.resolve(pod.metadata!.namespace, pod);
      if (!rs) return;
      this.expectations.creationObserved(objectKey(rs));
      this.controller.enqueueObject(rs);
      return;
    }
    for (const rs of this.matchingReplicaSets(pod)) this.controller.enqueueObject(rs);
  }

  updatePod(old: Pod, cur: Pod): void {
    if (old.metadata?.resourceVersion === cur.metadata?.resourceVersion) return;
    const labelsChanged = JSON.stringify(old.metadata?.labels) !== JSON.stringify(cur.metadata?.labels);
    if (cur.metadata?.deletionTimestamp) {
      // Graceful deletion: the pod is as good as gone; tell its ReplicaSet now, not in 30 s.
      this.deletePod(cur);
      if (labelsChanged) this.deletePod(old);
      return;
    }
    const oldRef = controllerRefOf(old);
    const curRef = controllerRefOf(cur);
    const refChanged = JSON.stringify(oldRef) !== JSON.stringify(curRef);
    if (refChanged && oldRef) {
      const rs = this.resolve(old.metadata!.namespace, old);
      if (rs) this.controller.enqueueObject(rs);
    }
    if (curRef) {
      const rs = this.resolve(cur.metadata!.namespace, cur);
      if (!rs) return;
      this.controller.enqueueObject(rs);
      // A pod that just became ready becomes available minReadySeconds later: sync again then.
      const minReady = rs.spec?.minReadySeconds ?? 0;
      if (!isPodReady(old) && isPodReady(cur) && minReady > 0)
        this.controller.enqueueAfter(objectKey(rs), minReady * 1000 + 1000);
      return;
    }
    if (labelsChanged || refChanged)
      for (const rs of this.matchingReplicaSets(cur)) this.controller.enqueueObject(rs);
  }

  deletePod(pod: Pod): void {
    const rs = this.resolve(pod.metadata?.namespace ?? "", pod);
    if (!rs) return;
    this.expectations.deletionObserved(objectKey(rs), objectKey(pod));
    this.controller.enqueueObject(rs);
  }

  /** syncReplicaSet: one level-based pass over the ReplicaSet `namespace/name`. */
  async sync(key: string): Promise<undefined | { requeueAfterMs: number }> {
    const [namespace, name] = splitKey(key);
    const rs = this.rsLister.get(namespace, name);
    if (!rs) {
      this.expectations.delete(key);
      return undefined;
    }
    const selector = selectorFromLabelSelector(rs.spec?.selector);
    const needsSync = this.expectations.satisfied(key) && !rs.metadata?.deletionTimestamp;
    const pods = await claimObjects(this.claimCandidates(rs), {
      owner: rs,
      ownerApiVersion: "apps/v1",
      ownerKind: "ReplicaSet",
      selector,
      client: this.podClient,
      canAdopt: () => recheckOwner(this.rsClient, rs, "ReplicaSet"),
    });
    let manageError: { reason: "FailedCreate" | "FailedDelete"; message: string } | undefined;
    let error: unknown;
    if (needsSync) {
      try {
        await this.manageReplicas(key, rs, pods);
      } catch (err) {
        error = err;
        const diff = pods.length - (rs.spec?.replicas ?? 1);
        manageError = { reason: diff < 0 ? "FailedCreate" : "FailedDelete", message: (err as Error).message };
      }
    }
    const status = calculateStatus(rs, pods, manageError, this.clock.now());
    const updated = await this.updateStatus(rs, status);
    if (error) throw error;
    const replicas = updated.spec?.replicas ?? 1;
    const minReady = updated.spec?.minReadySeconds ?? 0;
    const st = updated.status;
    if (minReady > 0 && st && st.readyReplicas === replicas && st.availableReplicas !== replicas)
      return { requeueAfterMs: minReady * 1000 };
    return undefined;
  }

  /**
   * The active pods claimObjects may keep or adopt: those this ReplicaSet controls and the orphans
   * of its namespace. Pods of other controllers would only be skipped there; with 100
   * ReplicaSets in one namespace, scanning every pod on each sync was the largest item in the
   * controller-manager's CPU profile of a rollout (bench:controllers).
   */
  private claimCandidates(rs: ReplicaSet): Pod[] {
    const namespace = rs.metadata!.namespace;
    return [
      ...this.pods.store.byIndex(CONTROLLER_UID_INDEX, rs.metadata!.uid),
      ...this.pods.store.byIndex(ORPHAN_INDEX, namespace),
    ].filter((p) => p.metadata?.namespace === namespace && isPodActive(p));
  }

  private async manageReplicas(key: string, rs: ReplicaSet, pods: Pod[]): Promise<void> {
    const want = rs.spec?.replicas ?? 1;
    const diff = pods.length - want;
    if (diff < 0) {
      const n = Math.min(-diff, this.burst);
      // Expect the creations before making them: the informer may report them before we return.
      this.expectations.expectCreations(key, n);
      this.log.info({ key, want, have: pods.length, creating: n }, "too few replicas");
      const { successes, error } = await slowStartBatch(n, SLOW_START_INITIAL_BATCH, () =>
        this.createPod(rs),
      );
      if (error !== undefined) {
        // Pods that were never created will never be observed: lower the expectations by them.
        for (let i = successes; i < n; i++) this.expectations.creationObserved(key);
        throw error;
      }
      return;
    }
    if (diff > 0) {
      const n = Math.min(diff, this.burst);
      const victims = podsToDelete(pods, this.relatedPods(rs), n);
      this.expectations.expectDeletions(key, victims.map(objectKey));
      this.log.info({ key, want, have: pods.length, deleting: n }, "too many replicas");
      const results = await Promise.allSettled(victims.map((p) => this.deletePodOf(rs, p)));
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
  }

  /**
   * Pods of every ReplicaSet controlled by the same owner (the old and new ReplicaSets of one
   * Deployment), or just this one's: what scale-down ranks against to keep replicas spread.
   */
  private relatedPods(rs: ReplicaSet): Pod[] {
    const owner = controllerRefOf(rs)?.uid;
    const sets = owner
      ? this.rsLister.list(rs.metadata!.namespace).filter((r) => controllerRefOf(r)?.uid === owner)
      : [rs];
    return sets
      .flatMap((r) => this.pods.store.byIndex(CONTROLLER_UID_INDEX, r.metadata!.uid))
      .filter(isPodActive);
  }

  private async createPod(rs: ReplicaSet): Promise<void> {
    const m = rs.metadata!;
    const tpl = rs.spec?.template;
    const pod = Pod.fromPartial({
      metadata: {
        generateName: `${m.name}-`,
        namespace: m.namespace,
        labels: { ...(tpl?.metadata?.labels ?? {}) },
        annotations: { ...(tpl?.metadata?.annotations ?? {}) },
        finalizers: [...(tpl?.metadata?.finalizers ?? [])],
        ownerReferences: [
          {
            apiVersion: "apps/v1",
            kind: "ReplicaSet",
            name: m.name,
            uid: m.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: tpl?.spec ?? {},
    });
    try {
      const created = await this.podClient.create(pod);
      void this.recorder.event(rs, "Normal", "SuccessfulCreate", `Created pod: ${created.metadata!.name}`);
    } catch (err) {
      void this.recorder.event(rs, "Warning", "FailedCreate", `Error creating: ${(err as Error).message}`);
      throw err;
    }
  }

  private async deletePodOf(rs: ReplicaSet, pod: Pod): Promise<void> {
    const key = objectKey(rs);
    const m = pod.metadata!;
    try {
      await this.podClient.delete(m.name, { namespace: m.namespace });
      void this.recorder.event(rs, "Normal", "SuccessfulDelete", `Deleted pod: ${m.name}`);
    } catch (err) {
      // Whatever happened, no deletion event is coming for this pod from this request.
      this.expectations.deletionObserved(key, objectKey(pod));
      if (isNotFound(err)) return;
      void this.recorder.event(rs, "Warning", "FailedDelete", `Error deleting: ${(err as Error).message}`);
      throw err;
    }
  }

  /** updateReplicaSetStatus: written only on change; one retry on a fresh copy after a conflict. */
  private async updateStatus(rs: ReplicaSet, status: ReplicaSet["status"] & object): Promise<ReplicaSet> {
    const generation = rs.metadata?.generation ?? 0;
    let cur = rs;
    for (let attempt = 0; ; attempt++) {
      const want = { ...status, observedGeneration: generation };
      if (sameStatus(cur.status, want)) return cur;
      try {
        return await this.rsClient.updateStatus({ ...cur, status: want });
      } catch (err) {
        if (attempt > 0 || !(isConflict(err) || isNotFound(err))) throw err;
        if (isNotFound(err)) return cur;
        cur = await this.rsClient.get(rs.metadata!.name, { namespace: rs.metadata!.namespace });
        if (cur.metadata?.uid !== rs.metadata?.uid) return cur;
      }
    }
  }
}

function safeSelector(rs: ReplicaSet): Selector | undefined {
  try {
    return selectorFromLabelSelector(rs.spec?.selector);
  } catch {
    return undefined;
  }
}

export function splitKey(key: string): [string, string] {
  const i = key.indexOf("/");
  return i < 0 ? ["", key] : [key.slice(0, i), key.slice(i + 1)];
}
