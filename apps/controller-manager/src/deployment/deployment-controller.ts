import { type Deployment, DeploymentStatus, objectKey, type Pod, ReplicaSet } from "@tskube/api";
import type { ResourceClient } from "@tskube/client";
import {
  type Clock,
  type Controller,
  type EventRecorder,
  type Informer,
  newControllerManagedBy,
  onlyDeletes,
  resourceVersionChanged,
} from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { isAlreadyExists, isNotFound, selectorFromLabelSelector } from "@tskube/machinery";
import type { ControllerContext, RunnableController } from "../context.js";
import { claimObjects, recheckOwner } from "../controller-ref-manager.js";
import { CONTROLLER_UID_INDEX, ORPHAN_INDEX } from "../indexers.js";
import { controllerRefOf } from "../pod-util.js";
import { splitKey } from "../replicaset/replicaset-controller.js";
import { computeHash, equalIgnoreHash, POD_TEMPLATE_HASH_LABEL } from "./hash.js";
import {
  activeReplicaSets,
  actualReplicas,
  annotationInt,
  availableReplicas,
  byCreation,
  byRevision,
  DESIRED_REPLICAS_ANNOTATION,
  deploymentComplete,
  deploymentProgressing,
  deploymentTimedOut,
  getCondition,
  hasProgressDeadline,
  isRollingUpdate,
  isSaturated,
  maxRevision,
  maxScaledDown,
  maxSurge,
  maxUnavailable,
  newCondition,
  newRSNewReplicas,
  planCleanupUnhealthy,
  planProportionalScale,
  planScaleDownOld,
  REASON,
  REVISION_ANNOTATION,
  readyReplicas,
  removeCondition,
  replicasOf,
  setCondition,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
  specReplicas,
} from "./util.js";

export interface DeploymentControllerOptions {
  workers?: number;
}

/**
 * Kubernetes' Deployment controller. Each sync claims the Deployment's ReplicaSets, finds the one
 * whose template is the Deployment's (creating it, named by the pod-template-hash, when a rollout
 * needs it), and moves pods from the old ReplicaSets to the new one: RollingUpdate within
 * maxSurge/maxUnavailable, Recreate by scaling old to zero and waiting for their pods to go first.
 * A resize without a template change is shared proportionally; paused Deployments only resize.
 * Revisions are annotations on the ReplicaSets; a rollback is a client copying an old template back
 * (apps/v1 has no rollbackTo), which this controller sees as that ReplicaSet becoming new again and
 * gives the next revision number.
 */
export class DeploymentController implements RunnableController {
  readonly controller: Controller;
  readonly deployments: Informer<Deployment>;
  readonly replicaSets: Informer<ReplicaSet>;
  readonly pods: Informer<Pod>;
  private readonly dClient: ResourceClient<Deployment>;
  private readonly rsClient: ResourceClient<ReplicaSet>;
  private readonly recorder: EventRecorder;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(ctx: ControllerContext, opts: DeploymentControllerOptions = {}) {
    this.clock = ctx.clock;
    this.log = ctx.log;
    this.dClient = ctx.client.resource<Deployment>("deployments");
    this.rsClient = ctx.client.resource<ReplicaSet>("replicasets");
    this.recorder = ctx.recorder("deployment-controller");
    this.deployments = ctx.informers.informerFor<Deployment>("deployments");
    this.replicaSets = ctx.informers.informerFor<ReplicaSet>("replicasets");
    this.pods = ctx.informers.informerFor<Pod>("pods");
    this.controller = newControllerManagedBy(ctx)
      .named("deployment")
      .for(this.deployments)
      .owns(this.replicaSets, { predicates: [resourceVersionChanged] })
      // An orphan: every Deployment that selects it may adopt it.
      .watches(this.replicaSets, (rs) => this.adoptersOf(rs), { predicates: [resourceVersionChanged] })
      // Recreate waits for the old pods to be gone; their deletion is what lets it go on.
      .watches(this.pods, (pod) => this.recreateWaitingOn(pod), { predicates: [onlyDeletes] })
      .withOptions({ workers: opts.workers ?? 5 })
      .complete((key) => this.sync(key));
  }

  run(signal: AbortSignal): Promise<void> {
    return this.controller.run(signal);
  }

  private ownerOf(rs: ReplicaSet): Deployment | undefined {
    const ref = controllerRefOf(rs);
    if (ref?.kind !== "Deployment") return undefined;
    const d = this.deployments.lister.get(rs.metadata!.namespace, ref.name);
    return d?.metadata?.uid === ref.uid ? d : undefined;
  }

  /** The Deployments whose selector matches an orphan ReplicaSet's labels. */
  private adoptersOf(rs: ReplicaSet): string[] {
    if (controllerRefOf(rs)) return [];
    const labels = rs.metadata?.labels ?? {};
    return this.deployments.lister
      .list(rs.metadata!.namespace)
      .filter((d) => {
        const sel = selectorFromLabelSelector(d.spec?.selector);
        return !sel.empty() && sel.matches(labels);
      })
      .map(objectKey);
  }

  /** The Recreate Deployment a deleted pod's ReplicaSet belongs to. */
  private recreateWaitingOn(pod: Pod): string[] {
    const ref = controllerRefOf(pod);
    if (ref?.kind !== "ReplicaSet") return [];
    const rs = this.replicaSets.lister.get(pod.metadata!.namespace, ref.name);
    if (!rs || rs.metadata?.uid !== ref.uid) return [];
    const d = this.ownerOf(rs);
    return d && d.spec?.strategy?.type === "Recreate" ? [objectKey(d)] : [];
  }

  /** syncDeployment. */
  async sync(key: string): Promise<undefined | { requeueAfterMs: number }> {
    const [namespace, name] = splitKey(key);
    const cached = this.deployments.lister.get(namespace, name);
    if (!cached) return undefined;
    let d = structuredClone(cached);
    const selector = selectorFromLabelSelector(d.spec?.selector);
    if (selector.empty()) {
      // An empty selector would take every ReplicaSet in the namespace: refuse, as Kubernetes does.
      void this.recorder.event(
        d,
        "Warning",
        "SelectingAll",
        "This deployment is selecting all pods. A non-empty selector is required.",
      );
      if ((d.status?.observedGeneration ?? 0) < (d.metadata?.generation ?? 0)) {
        await this.dClient.updateStatus({
          ...d,
          status: DeploymentStatus.fromPartial({
            ...d.status,
            observedGeneration: d.metadata?.generation ?? 0,
          }),
        });
      }
      return undefined;
    }
    // Only its own ReplicaSets and orphans can be claimed; those of other Deployments would be
    // skipped there after a scan of the whole namespace on every sync.
    const candidates = [
      ...this.replicaSets.store.byIndex(CONTROLLER_UID_INDEX, d.metadata!.uid),
      ...this.replicaSets.store.byIndex(ORPHAN_INDEX, namespace),
    ].filter((rs) => rs.metadata?.namespace === namespace);
    const rsList = await claimObjects(candidates, {
      owner: d,
      ownerApiVersion: "apps/v1",
      ownerKind: "Deployment",
      selector,
      client: this.rsClient,
      canAdopt: () => recheckOwner(this.dClient, d, "Deployment"),
    });
    if (d.metadata?.deletionTimestamp) {
      const { newRS, oldRSs } = await this.allReplicaSets(d, rsList, false);
      await this.syncStatusOnly(d, [...oldRSs, newRS], newRS);
      return undefined;
    }
    d = await this.checkPausedConditions(d);
    if (d.spec?.paused) {
      await this.syncScaleOnly(d, rsList);
      return undefined;
    }
    if (this.isScalingEvent(d, rsList)) {
      await this.syncScaleOnly(d, rsList);
      return undefined;
    }
    return d.spec?.strategy?.type === "Recreate"
      ? await this.rolloutRecreate(d, rsList)
      : await this.rolloutRolling(d, rsList);
  }

  /** Old ReplicaSets and the new one (created when asked and missing), with revisions synced. */
  private async allReplicaSets(
    d: Deployment,
    rsList: ReplicaSet[],
    create: boolean,
  ): Promise<{ newRS: ReplicaSet | undefined; oldRSs: ReplicaSet[]; d: Deployment }> {
    const existing = [...rsList]
      .sort(byCreation)
      .find((rs) => equalIgnoreHash(rs.spec?.template, d.spec?.template));
    const oldRSs = rsList.filter((rs) => rs !== existing);
    const result = await this.newReplicaSet(d, existing, oldRSs, create);
    return { ...result, oldRSs };
  }

  /** getNewReplicaSet: brings an existing new ReplicaSet's revision up to date, or creates it. */
  private async newReplicaSet(
    d: Deployment,
    existing: ReplicaSet | undefined,
    oldRSs: ReplicaSet[],
    create: boolean,
  ): Promise<{ newRS: ReplicaSet | undefined; d: Deployment }> {
    const newRevision = maxRevision(oldRSs) + 1;
    const now = this.clock.now();
    if (existing) {
      let rs = structuredClone(existing);
      const annotationsChanged = setNewReplicaSetAnnotations(d, rs, newRevision, true);
      const minReadyChanged = rs.spec!.minReadySeconds !== (d.spec?.minReadySeconds ?? 0);
      if (annotationsChanged || minReadyChanged) {
        rs.spec!.minReadySeconds = d.spec?.minReadySeconds ?? 0;
        rs = await this.rsClient.update(rs);
      }
      d = await this.setDeploymentRevision(d, rs.metadata!.annotations[REVISION_ANNOTATION] ?? "");
      if (hasProgressDeadline(d) && !getCondition(d.status, "Progressing")) {
        const status = statusCopy(d);
        setCondition(
          status,
          newCondition(
            "Progressing",
            "True",
            REASON.foundNewRS,
            `Found new replica set "${rs.metadata!.name}"`,
            now,
          ),
        );
        d = await this.dClient.updateStatus({ ...d, status });
      }
      return { newRS: rs, d };
    }
    if (!create) return { newRS: undefined, d };
    const hash = computeHash(d.spec?.template, d.status?.collisionCount);
    const template = structuredClone(d.spec!.template!);
    template.metadata!.labels = { ...template.metadata!.labels, [POD_TEMPLATE_HASH_LABEL]: hash };
    const selector = structuredClone(d.spec!.selector!);
    selector.matchLabels = { ...selector.matchLabels, [POD_TEMPLATE_HASH_LABEL]: hash };
    const name = `${d.metadata!.name}-${hash}`;
    const rs = ReplicaSet.fromPartial({
      metadata: {
        name,
        namespace: d.metadata!.namespace,
        labels: template.metadata!.labels,
        annotations: {},
        ownerReferences: [
          {
            apiVersion: "apps/v1",
            kind: "Deployment",
            name: d.metadata!.name,
            uid: d.metadata!.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: { replicas: 0, minReadySeconds: d.spec?.minReadySeconds ?? 0, selector, template },
    });
    rs.spec!.replicas = newRSNewReplicas(d, [...oldRSs, rs], rs);
    setNewReplicaSetAnnotations(d, rs, newRevision, false);
    let created: ReplicaSet;
    let alreadyExisted = false;
    try {
      created = await this.rsClient.create(rs);
    } catch (err) {
      if (isAlreadyExists(err)) {
        const other = await this.rsClient.get(name, { namespace: d.metadata!.namespace });
        if (
          controllerRefOf(other)?.uid === d.metadata!.uid &&
          equalIgnoreHash(other.spec?.template, d.spec?.template)
        ) {
          // Ours, only not in the cache yet.
          created = other;
          alreadyExisted = true;
        } else {
          // A hash collision: another template has this name. The next hash will differ.
          const status = statusCopy(d);
          status.collisionCount = (status.collisionCount ?? 0) + 1;
          await this.dClient.updateStatus({ ...d, status });
          throw new Error(
            `found a hash collision for deployment "${d.metadata!.name}" - bumping collisionCount to ${status.collisionCount}`,
          );
        }
      } else {
        const message = `Failed to create new replica set "${name}": ${(err as Error).message}`;
        if (hasProgressDeadline(d)) {
          const status = statusCopy(d);
          setCondition(status, newCondition("Progressing", "False", REASON.failedRSCreate, message, now));
          await this.dClient.updateStatus({ ...d, status }).catch(() => undefined);
        }
        void this.recorder.event(d, "Warning", "FailedCreate", message);
        throw err;
      }
    }
    if (!alreadyExisted && replicasOf(created) > 0) {
      void this.recorder.event(
        d,
        "Normal",
        "ScalingReplicaSet",
        `Scaled up replica set ${name} from 0 to ${replicasOf(created)}`,
      );
    }
    d = await this.setDeploymentRevision(d, String(newRevision));
    if (!alreadyExisted && hasProgressDeadline(d)) {
      const status = statusCopy(d);
      setCondition(
        status,
        newCondition("Progressing", "True", REASON.newRSCreated, `Created new replica set "${name}"`, now),
      );
      d = await this.dClient.updateStatus({ ...d, status });
    }
    return { newRS: created, d };
  }

  /**
   * SetDeploymentRevision: the Deployment carries its current revision as an annotation. tskube's
   * status writes leave metadata alone, so this is a metadata update (no spec change, so no new
   * generation).
   */
  private async setDeploymentRevision(d: Deployment, revision: string): Promise<Deployment> {
    if (!revision || d.metadata!.annotations[REVISION_ANNOTATION] === revision) return d;
    const updated = await this.dClient.update({
      ...d,
      metadata: {
        ...d.metadata!,
        annotations: { ...d.metadata!.annotations, [REVISION_ANNOTATION]: revision },
      },
    });
    return updated;
  }

  /** checkPausedConditions: Progressing=Unknown while paused (DeploymentPaused), DeploymentResumed after. */
  private async checkPausedConditions(d: Deployment): Promise<Deployment> {
    if (!hasProgressDeadline(d)) return d;
    const cond = getCondition(d.status, "Progressing");
    if (cond?.reason === REASON.timedOut) return d;
    const pausedCond = cond?.reason === REASON.paused;
    const status = statusCopy(d);
    const now = this.clock.now();
    if (d.spec?.paused && !pausedCond) {
      setCondition(
        status,
        newCondition("Progressing", "Unknown", REASON.paused, "Deployment is paused", now),
      );
    } else if (!d.spec?.paused && pausedCond) {
      setCondition(
        status,
        newCondition("Progressing", "Unknown", REASON.resumed, "Deployment is resumed", now),
      );
    } else return d;
    return await this.dClient.updateStatus({ ...d, status });
  }

  /** isScalingEvent: an active ReplicaSet was sized for another replica count than the Deployment's. */
  private isScalingEvent(d: Deployment, rsList: ReplicaSet[]): boolean {
    return activeReplicaSets(rsList).some((rs) => {
      const desired = annotationInt(rs, DESIRED_REPLICAS_ANNOTATION);
      return desired !== undefined && desired !== replicasOf(d);
    });
  }

  /** sync: resize (proportionally during a rollout) without rolling out; paused Deployments also clean up. */
  private async syncScaleOnly(d0: Deployment, rsList: ReplicaSet[]): Promise<void> {
    const { newRS, oldRSs, d } = await this.allReplicaSets(d0, rsList, false);
    const sets = await this.scale(d, newRS, oldRSs);
    const newAfter = newRS && sets.find((rs) => rs.metadata!.uid === newRS.metadata!.uid);
    const oldAfter = sets.filter((rs) => rs !== newAfter);
    if (d.spec?.paused) await this.cleanupDeployment(d, oldAfter);
    await this.syncStatusOnly(d, [...oldAfter, newAfter], newAfter);
  }

  /** DeploymentController.scale; returns every ReplicaSet as it is after the writes. */
  private async scale(
    d: Deployment,
    newRS: ReplicaSet | undefined,
    oldRSs: ReplicaSet[],
  ): Promise<ReplicaSet[]> {
    const all = [...oldRSs, ...(newRS ? [newRS] : [])];
    const replace = (rs: ReplicaSet) => all.map((x) => (x.metadata!.uid === rs.metadata!.uid ? rs : x));
    const newest = [...oldRSs].sort(byCreation).reverse();
    const active = activeReplicaSets([...newest, newRS]);
    const activeOrLatest =
      active.length === 1 ? active[0] : active.length === 0 ? (newRS ?? newest[0]) : undefined;
    if (activeOrLatest) {
      if (replicasOf(activeOrLatest) === replicasOf(d) && !this.annotationsStale(d, activeOrLatest))
        return all;
      return replace(await this.scaleReplicaSet(activeOrLatest, replicasOf(d), d));
    }
    if (isSaturated(d, newRS)) {
      let out = all;
      for (const old of activeReplicaSets(oldRSs)) {
        const scaled = await this.scaleReplicaSet(old, 0, d);
        out = out.map((x) => (x.metadata!.uid === scaled.metadata!.uid ? scaled : x));
      }
      return out;
    }
    if (!isRollingUpdate(d)) return all;
    const sizes = planProportionalScale(d, active);
    let out = all;
    for (const rs of active) {
      const scaled = await this.scaleReplicaSet(rs, sizes.get(rs.metadata!.name)!, d);
      out = out.map((x) => (x.metadata!.uid === scaled.metadata!.uid ? scaled : x));
    }
    return out;
  }

  private annotationsStale(d: Deployment, rs: ReplicaSet): boolean {
    return setReplicasAnnotations(structuredClone(rs), replicasOf(d), replicasOf(d) + maxSurge(d));
  }

  /**
   * scaleReplicaSet(AndRecordEvent): writes the new size with the Deployment size it was made for
   * (desired/max-replicas annotations) and tells the story as a ScalingReplicaSet event.
   */
  private async scaleReplicaSet(rs: ReplicaSet, size: number, d: Deployment): Promise<ReplicaSet> {
    const old = replicasOf(rs);
    const copy = structuredClone(rs);
    copy.spec!.replicas = size;
    const annotationsChanged = setReplicasAnnotations(copy, replicasOf(d), replicasOf(d) + maxSurge(d));
    if (old === size && !annotationsChanged) return rs;
    const updated = await this.rsClient.update(copy);
    if (old !== size) {
      const op = old < size ? "up" : "down";
      void this.recorder.event(
        d,
        "Normal",
        "ScalingReplicaSet",
        `Scaled ${op} replica set ${rs.metadata!.name} from ${old} to ${size}`,
      );
    }
    return updated;
  }

  /** rolloutRolling. */
  private async rolloutRolling(
    d0: Deployment,
    rsList: ReplicaSet[],
  ): Promise<undefined | { requeueAfterMs: number }> {
    const { newRS, oldRSs, d } = await this.allReplicaSets(d0, rsList, true);
    let nrs = newRS!;
    let olds = oldRSs;
    // reconcileNewReplicaSet: grow (or shrink) the new ReplicaSet within maxSurge.
    const want = replicasOf(nrs) > replicasOf(d) ? replicasOf(d) : newRSNewReplicas(d, [...olds, nrs], nrs);
    if (want !== replicasOf(nrs)) {
      nrs = await this.scaleReplicaSet(nrs, want, d);
      return await this.syncRolloutStatus(d, [...olds, nrs], nrs);
    }
    // reconcileOldReplicaSets: unhealthy old pods first, then as far as availability allows.
    if (specReplicas(olds) > 0) {
      const room = maxScaledDown(d, [...olds, nrs], nrs);
      if (room > 0) {
        let scaledDown = 0;
        const cleanup = planCleanupUnhealthy(activeReplicaSets(olds), room);
        for (const [name, size] of cleanup) {
          const rs = olds.find((x) => x.metadata!.name === name)!;
          scaledDown += replicasOf(rs) - size;
          const updated = await this.scaleReplicaSet(rs, size, d);
          olds = olds.map((x) => (x === rs ? updated : x));
        }
        const down = planScaleDownOld(d, [...olds, nrs], activeReplicaSets(olds));
        for (const [name, size] of down) {
          const rs = olds.find((x) => x.metadata!.name === name)!;
          scaledDown += replicasOf(rs) - size;
          const updated = await this.scaleReplicaSet(rs, size, d);
          olds = olds.map((x) => (x === rs ? updated : x));
        }
        if (scaledDown > 0) return await this.syncRolloutStatus(d, [...olds, nrs], nrs);
      }
    }
    if (d.status && deploymentComplete(d, d.status)) await this.cleanupDeployment(d, olds);
    return await this.syncRolloutStatus(d, [...olds, nrs], nrs);
  }

  /** rolloutRecreate: old ReplicaSets to zero, wait until their pods are gone, then the new one to full size. */
  private async rolloutRecreate(
    d0: Deployment,
    rsList: ReplicaSet[],
  ): Promise<undefined | { requeueAfterMs: number }> {
    let { newRS, oldRSs, d } = await this.allReplicaSets(d0, rsList, false);
    let scaled = false;
    for (const rs of activeReplicaSets(oldRSs)) {
      const updated = await this.scaleReplicaSet(rs, 0, d);
      oldRSs = oldRSs.map((x) => (x === rs ? updated : x));
      scaled = true;
    }
    if (scaled) return await this.syncRolloutStatus(d, [...oldRSs, newRS], newRS);
    if (this.oldPodsRunning(newRS, oldRSs)) return await this.syncRolloutStatus(d, [...oldRSs, newRS], newRS);
    if (!newRS) ({ newRS, oldRSs, d } = await this.allReplicaSets(d, rsList, true));
    newRS = await this.scaleReplicaSet(newRS!, replicasOf(d), d);
    if (d.status && deploymentComplete(d, d.status)) await this.cleanupDeployment(d, oldRSs);
    return await this.syncRolloutStatus(d, [...oldRSs, newRS], newRS);
  }

  /** oldPodsRunning: any old pod that has not finished still holds its resources (and its port). */
  private oldPodsRunning(newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[]): boolean {
    if (actualReplicas(oldRSs) > 0) return true;
    const oldUids = new Set(oldRSs.map((rs) => rs.metadata!.uid));
    if (newRS) oldUids.delete(newRS.metadata!.uid);
    const namespace = oldRSs[0]?.metadata?.namespace ?? newRS?.metadata?.namespace ?? "";
    return this.pods.lister.list(namespace).some((p) => {
      const uid = controllerRefOf(p)?.uid;
      const phase = p.status?.phase;
      return !!uid && oldUids.has(uid) && phase !== "Succeeded" && phase !== "Failed";
    });
  }

  /** cleanupDeployment: old ReplicaSets beyond revisionHistoryLimit, lowest revision first, once empty. */
  private async cleanupDeployment(d: Deployment, oldRSs: ReplicaSet[]): Promise<void> {
    const limit = d.spec?.revisionHistoryLimit;
    if (limit === undefined) return;
    const cleanable = oldRSs.filter((rs) => !rs.metadata?.deletionTimestamp).sort(byRevision);
    const diff = cleanable.length - limit;
    for (let i = 0; i < diff; i++) {
      const rs = cleanable[i]!;
      if (
        (rs.status?.replicas ?? 0) !== 0 ||
        replicasOf(rs) !== 0 ||
        (rs.metadata?.generation ?? 0) > (rs.status?.observedGeneration ?? 0)
      )
        continue;
      try {
        await this.rsClient.delete(rs.metadata!.name, { namespace: rs.metadata!.namespace });
        this.log.info(
          { deployment: objectKey(d), replicaSet: rs.metadata!.name },
          "deleted old replica set beyond revisionHistoryLimit",
        );
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  private calculateStatus(
    d: Deployment,
    allRSs: (ReplicaSet | undefined)[],
    newRS: ReplicaSet | undefined,
  ): DeploymentStatus {
    const available = availableReplicas(allRSs);
    const total = specReplicas(allRSs);
    const status = DeploymentStatus.fromPartial({
      observedGeneration: d.metadata?.generation ?? 0,
      replicas: actualReplicas(allRSs),
      updatedReplicas: actualReplicas([newRS]),
      readyReplicas: readyReplicas(allRSs),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, total - available),
      conditions: structuredClone(d.status?.conditions ?? []),
    });
    if (d.status?.collisionCount !== undefined) status.collisionCount = d.status.collisionCount;
    const now = this.clock.now();
    if (available >= replicasOf(d) - maxUnavailable(d))
      setCondition(
        status,
        newCondition(
          "Available",
          "True",
          REASON.minimumAvailable,
          "Deployment has minimum availability.",
          now,
        ),
      );
    else
      setCondition(
        status,
        newCondition(
          "Available",
          "False",
          REASON.minimumUnavailable,
          "Deployment does not have minimum availability.",
          now,
        ),
      );
    return status;
  }

  /** syncDeploymentStatus: counts and Available, no progress bookkeeping. */
  private async syncStatusOnly(
    d: Deployment,
    allRSs: (ReplicaSet | undefined)[],
    newRS: ReplicaSet | undefined,
  ): Promise<void> {
    const status = this.calculateStatus(d, allRSs, newRS);
    if (sameStatus(d.status, status)) return;
    await this.dClient.updateStatus({ ...d, status });
  }

  /**
   * syncRolloutStatus: counts, Available, Progressing (progressing, complete, or timed out after
   * progressDeadlineSeconds without progress) and ReplicaFailure from the ReplicaSets. While a
   * rollout is stuck, asks to come back when its deadline would pass.
   */
  private async syncRolloutStatus(
    d: Deployment,
    allRSs: (ReplicaSet | undefined)[],
    newRS: ReplicaSet | undefined,
  ): Promise<undefined | { requeueAfterMs: number }> {
    const status = this.calculateStatus(d, allRSs, newRS);
    const now = this.clock.now();
    if (!hasProgressDeadline(d)) removeCondition(status, "Progressing");
    const cur = getCondition(d.status, "Progressing");
    const complete = status.replicas === status.updatedReplicas && cur?.reason === REASON.newRSAvailable;
    const rsName = newRS?.metadata?.name ?? "";
    if (hasProgressDeadline(d) && !complete) {
      if (deploymentComplete(d, status)) {
        setCondition(
          status,
          newCondition(
            "Progressing",
            "True",
            REASON.newRSAvailable,
            `ReplicaSet "${rsName}" has successfully progressed.`,
            now,
          ),
        );
      } else if (deploymentProgressing(d, status)) {
        const c = newCondition(
          "Progressing",
          "True",
          REASON.rsUpdated,
          `ReplicaSet "${rsName}" is progressing.`,
          now,
        );
        if (cur?.status === "True") c.lastTransitionTime = cur.lastTransitionTime;
        removeCondition(status, "Progressing");
        setCondition(status, c);
      } else if (deploymentTimedOut(d, status, now)) {
        setCondition(
          status,
          newCondition(
            "Progressing",
            "False",
            REASON.timedOut,
            `ReplicaSet "${rsName}" has timed out progressing.`,
            now,
          ),
        );
      }
    }
    const failure = allRSs
      .flatMap((rs) => rs?.status?.conditions ?? [])
      .find((c) => c.type === "ReplicaFailure" && c.status === "True");
    if (failure) {
      setCondition(
        status,
        newCondition("ReplicaFailure", failure.status, failure.reason, failure.message, now),
      );
    } else removeCondition(status, "ReplicaFailure");
    if (sameStatus(d.status, status)) return this.requeueStuck(d, status, now);
    const before = getCondition(d.status, "Progressing");
    const after = getCondition(status, "Progressing");
    // Kubernetes records no Event for this; the condition tells it (and the log).
    if (after?.reason === REASON.timedOut && before?.reason !== REASON.timedOut)
      this.log.info({ deployment: objectKey(d) }, "rollout exceeded its progress deadline");
    await this.dClient.updateStatus({ ...d, status });
    return this.requeueStuck(d, status, now);
  }

  /** requeueStuckDeployment: come back when the progress deadline of a rollout in progress would pass. */
  private requeueStuck(
    d: Deployment,
    status: DeploymentStatus,
    now: number,
  ): undefined | { requeueAfterMs: number } {
    const c = getCondition(status, "Progressing");
    if (!hasProgressDeadline(d) || !c || c.reason === REASON.newRSAvailable || c.reason === REASON.timedOut)
      return undefined;
    if (deploymentComplete(d, status)) return undefined;
    const after = (Date.parse(c.lastUpdateTime) || now) + d.spec!.progressDeadlineSeconds! * 1000 - now;
    return { requeueAfterMs: Math.max(0, after) + 1000 };
  }
}

function statusCopy(d: Deployment): DeploymentStatus {
  return DeploymentStatus.fromPartial(structuredClone(d.status ?? {}));
}

function sameStatus(a: DeploymentStatus | undefined, b: DeploymentStatus): boolean {
  return !!a && JSON.stringify(DeploymentStatus.toJSON(a)) === JSON.stringify(DeploymentStatus.toJSON(b));
}
