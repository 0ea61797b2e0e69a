import { KINDS, type KindInfo, type KubeObject, kindForManifest, type OwnerReference } from "@tskube/api";
import type { PropagationPolicy, ResourceClient } from "@tskube/client";
import { type Controller, type Enqueuer, type Informer, newControllerManagedBy } from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { isConflict, isNotFound } from "@tskube/machinery";
import type { ControllerContext, RunnableController } from "../context.js";
import { OWNER_UID_INDEX, UID_INDEX } from "../indexers.js";

export const ORPHAN_FINALIZER = "orphan";
export const FOREGROUND_FINALIZER = "foregroundDeletion";

/**
 * Kinds the collector watches. Events are left out: they are the most numerous objects and never
 * owners; nothing in tskube sets ownerReferences on them.
 */
export const MONITORED_KINDS: readonly KindInfo[] = KINDS.filter((k) => k.kind !== "Event");

export interface GarbageCollectorOptions {
  workers?: number;
  kinds?: readonly KindInfo[];
}

/** A work item: the object's resource and key, plus its uid (a reused name is another object). */
const itemKey = (kind: KindInfo, obj: KubeObject) =>
  `${kind.resource}|${obj.metadata!.namespace}|${obj.metadata!.name}|${obj.metadata!.uid}`;

/**
 * Kubernetes' garbage collector, built on the informers' caches instead of a separate graph: each
 * cache is indexed by uid and by owner uid, which answers "who owns this" and "what does this own".
 *
 * - Background: an object whose every owner is gone (checked against the apiserver, not only the
 *   cache, which may simply not have seen a new owner yet) is deleted; owners that are gone are
 *   dropped from an object that still has a live owner.
 * - Foreground: an owner marked with the foregroundDeletion finalizer has its dependents deleted
 *   (in the foreground too, so the cascade goes down the tree); once no dependent that blocks owner
 *   deletion remains, the finalizer is removed and the apiserver finishes the deletion.
 * - Orphan: an owner marked with the orphan finalizer has its ownerReference removed from every
 *   dependent, then loses the finalizer.
 */
export class GarbageCollector implements RunnableController {
  readonly controller: Controller;
  readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly clients = new Map<string, ResourceClient<KubeObject>>();
  private readonly log: Logger;

  constructor(ctx: ControllerContext, opts: GarbageCollectorOptions = {}) {
    this.log = ctx.log;
    // No primary kind: every kind of the table is watched alike, keyed by its item key.
    const builder = newControllerManagedBy(ctx).named("garbagecollector");
    for (const kind of opts.kinds ?? MONITORED_KINDS) {
      const informer = ctx.informers.informerFor<KubeObject>(kind);
      this.informers.set(kind.kind, informer);
      this.clients.set(kind.kind, ctx.client.resource<KubeObject>(kind));
      builder.watches(informer, {
        onAdd: (o, q) => this.changed(kind, o, q),
        onUpdate: (_old, o, q) => this.changed(kind, o, q),
        onDelete: (o, q) => this.deleted(o, q),
      });
    }
    this.controller = builder
      .withOptions({ workers: opts.workers ?? 20 })
      .complete((key) => this.attempt(key));
  }

  run(signal: AbortSignal): Promise<void> {
    return this.controller.run(signal);
  }

  private changed(kind: KindInfo, obj: KubeObject, q: Enqueuer): void {
    const m = obj.metadata!;
    const deleting =
      !!m.deletionTimestamp &&
      (m.finalizers.includes(ORPHAN_FINALIZER) || m.finalizers.includes(FOREGROUND_FINALIZER));
    if (deleting || m.ownerReferences.length > 0) q.add(itemKey(kind, obj));
  }

  /** A gone object: its dependents may now be dangling, and a foreground owner may be unblocked. */
  private deleted(obj: KubeObject, q: Enqueuer): void {
    for (const d of this.dependents(obj.metadata!.uid)) q.add(itemKey(d.kind, d.obj));
    for (const ref of obj.metadata?.ownerReferences ?? []) {
      const owner = this.cachedOwner(ref, obj.metadata!.namespace);
      if (owner) q.add(itemKey(owner.kind, owner.obj));
    }
  }

  dependents(uid: string): { kind: KindInfo; obj: KubeObject }[] {
    const out: { kind: KindInfo; obj: KubeObject }[] = [];
    for (const [kindName, informer] of this.informers) {
      const kind = KINDS.find((k) => k.kind === kindName)!;
      for (const obj of informer.store.byIndex(OWNER_UID_INDEX, uid)) out.push({ kind, obj });
    }
    return out;
  }

  private refKind(ref: OwnerReference): KindInfo | undefined {
    return kindForManifest(ref.apiVersion, ref.kind);
  }

  private cachedOwner(
    ref: OwnerReference,
    namespace: string,
  ): { kind: KindInfo; obj: KubeObject } | undefined {
    const kind = this.refKind(ref);
    const informer = kind && this.informers.get(kind.kind);
    const obj = informer?.store.byIndex(UID_INDEX, ref.uid)[0];
    if (!kind || !obj) return undefined;
    if (kind.namespaced && obj.metadata!.namespace !== namespace) return undefined;
    return { kind, obj };
  }

  /**
   * The owner as the apiserver has it: "solid", "waiting" (being deleted in the foreground),
   * "dangling" (gone, or its name now holds another uid) or "unknown" (a kind not watched here,
   * which is left alone).
   */
  private async ownerState(
    ref: OwnerReference,
    namespace: string,
  ): Promise<"solid" | "waiting" | "dangling" | "unknown"> {
    const kind = this.refKind(ref);
    if (!kind || !this.clients.has(kind.kind)) return "unknown";
    let owner = this.cachedOwner(ref, namespace)?.obj;
    if (!owner) {
      try {
        owner = await this.clients
          .get(kind.kind)!
          .get(ref.name, { namespace: kind.namespaced ? namespace : "" });
      } catch (err) {
        if (isNotFound(err)) return "dangling";
        throw err;
      }
      if (owner.metadata?.uid !== ref.uid) return "dangling";
    }
    const m = owner.metadata!;
    return m.deletionTimestamp && m.finalizers.includes(FOREGROUND_FINALIZER) ? "waiting" : "solid";
  }

  /** attemptToDeleteItem / processDeletingDependentsItem / orphanDependents for one object. */
  async attempt(key: string): Promise<void> {
    const [resource, namespace, name, uid] = key.split("|") as [string, string, string, string];
    const kind = KINDS.find((k) => k.resource === resource)!;
    const obj = this.informers.get(kind.kind)?.store.getByName(namespace, name);
    if (!obj || obj.metadata!.uid !== uid) return;
    const m = obj.metadata!;
    if (m.deletionTimestamp && m.finalizers.includes(ORPHAN_FINALIZER)) {
      await this.orphanDependents(kind, obj);
      return;
    }
    if (m.deletionTimestamp && m.finalizers.includes(FOREGROUND_FINALIZER)) {
      await this.deleteDependentsFirst(kind, obj);
      return;
    }
    if (m.deletionTimestamp || m.ownerReferences.length === 0) return;
    const solid: OwnerReference[] = [];
    const gone: OwnerReference[] = [];
    let waiting = false;
    for (const ref of m.ownerReferences) {
      const state = await this.ownerState(ref, namespace);
      if (state === "solid" || state === "unknown") solid.push(ref);
      else {
        gone.push(ref);
        if (state === "waiting") waiting = true;
      }
    }
    if (gone.length === 0) return;
    if (solid.length > 0) {
      // Still owned: only the references to owners that are gone or going are dropped.
      const goneUids = new Set(gone.map((r) => r.uid));
      await this.update(kind, {
        ...obj,
        metadata: { ...m, ownerReferences: m.ownerReferences.filter((r) => !goneUids.has(r.uid)) },
      });
      return;
    }
    // An owner deleting in the foreground waits for this object: delete it in the foreground as
    // well when it has dependents of its own, so the owner is finished only after the whole tree.
    const policy: PropagationPolicy =
      waiting && this.dependents(uid).length > 0 ? "Foreground" : "Background";
    this.log.info({ kind: kind.kind, namespace, name, policy }, "deleting object whose owners are gone");
    await this.delete(kind, obj, policy);
  }

  private async orphanDependents(kind: KindInfo, owner: KubeObject): Promise<void> {
    const uid = owner.metadata!.uid;
    for (const d of this.dependents(uid)) {
      const m = d.obj.metadata!;
      await this.update(d.kind, {
        ...d.obj,
        metadata: { ...m, ownerReferences: m.ownerReferences.filter((r) => r.uid !== uid) },
      });
    }
    await this.removeFinalizer(kind, owner, ORPHAN_FINALIZER);
  }

  private async deleteDependentsFirst(kind: KindInfo, owner: KubeObject): Promise<void> {
    const uid = owner.metadata!.uid;
    const dependents = this.dependents(uid);
    const blocking = dependents.filter((d) =>
      d.obj.metadata!.ownerReferences.some((r) => r.uid === uid && r.blockOwnerDeletion),
    );
    if (blocking.length === 0) {
      await this.removeFinalizer(kind, owner, FOREGROUND_FINALIZER);
      return;
    }
    for (const d of dependents) {
      if (d.obj.metadata!.deletionTimestamp) continue;
      // Dependents that other live owners still hold are only released from this owner.
      const others = d.obj.metadata!.ownerReferences.filter((r) => r.uid !== uid);
      if (others.length > 0) {
        this.controller.enqueue(itemKey(d.kind, d.obj));
        continue;
      }
      await this.delete(
        d.kind,
        d.obj,
        this.dependents(d.obj.metadata!.uid).length > 0 ? "Foreground" : "Background",
      );
    }
  }

  private async removeFinalizer(kind: KindInfo, obj: KubeObject, finalizer: string): Promise<void> {
    const m = obj.metadata!;
    this.log.info({ kind: kind.kind, namespace: m.namespace, name: m.name, finalizer }, "removing finalizer");
    await this.update(kind, {
      ...obj,
      metadata: { ...m, finalizers: m.finalizers.filter((f) => f !== finalizer) },
    });
  }

  /** Writes carry the cached resourceVersion: a conflict means newer state, which will be synced again. */
  private async update(kind: KindInfo, obj: KubeObject): Promise<void> {
    try {
      await this.clients.get(kind.kind)!.update(obj);
    } catch (err) {
      if (isNotFound(err)) return;
      if (isConflict(err))
        throw new Error(`${kind.kind} ${obj.metadata!.namespace}/${obj.metadata!.name} changed; retrying`);
      throw err;
    }
  }

  private async delete(kind: KindInfo, obj: KubeObject, propagationPolicy: PropagationPolicy): Promise<void> {
    const m = obj.metadata!;
    try {
      await this.clients.get(kind.kind)!.delete(m.name, {
        namespace: m.namespace,
        propagationPolicy,
        preconditions: { uid: m.uid },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
