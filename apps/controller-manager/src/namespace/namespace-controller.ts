import { KINDS, type KindInfo, type KubeObject, Namespace, NamespaceCondition, type Pod } from "@tskube/api";
import type { ResourceClient } from "@tskube/client";
import {
  type Clock,
  type Controller,
  type Informer,
  newControllerManagedBy,
  onlyDeletes,
} from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { isConflict, isNotFound } from "@tskube/machinery";
import type { ControllerContext, RunnableController } from "../context.js";
import { rfc3339 } from "../pod-util.js";

/** The finalizer the apiserver puts in spec.finalizers of every namespace (FinalizerKubernetes). */
export const FINALIZER_KUBERNETES = "kubernetes";
/** How long Kubernetes expects objects with finalizers to take (finalizerEstimateSeconds). */
const FINALIZER_ESTIMATE_SECONDS = 15;

/** The namespace conditions Kubernetes' namespaced resources deleter reports, in its order. */
const CONDITION_TYPES = [
  "NamespaceDeletionDiscoveryFailure",
  "NamespaceDeletionGroupVersionParsingFailure",
  "NamespaceDeletionContentFailure",
  "NamespaceContentRemaining",
  "NamespaceFinalizersRemaining",
] as const;
type ConditionType = (typeof CONDITION_TYPES)[number];

/** Status False of each condition: the reason and message Kubernetes writes when all went well. */
const OK: Record<ConditionType, [string, string]> = {
  NamespaceDeletionDiscoveryFailure: ["ResourcesDiscovered", "All resources successfully discovered"],
  NamespaceDeletionGroupVersionParsingFailure: [
    "ParsedGroupVersions",
    "All legacy kube types successfully parsed",
  ],
  NamespaceDeletionContentFailure: [
    "ContentDeleted",
    "All content successfully deleted, may be waiting on finalization",
  ],
  NamespaceContentRemaining: ["ContentRemoved", "All content successfully removed"],
  NamespaceFinalizersRemaining: ["ContentHasNoFinalizers", "All content-preserving finalizers finished"],
};

/** What one pass over the namespace's content found. */
interface DeletionResult {
  failures: string[];
  /** Objects left per resource ("pods has 2 resource instances"). */
  remaining: Map<string, number>;
  /** Objects held by each finalizer. */
  finalizers: Map<string, number>;
  /** Seconds until what remains is expected to be gone (pods' grace periods, finalizers). */
  estimateSeconds: number;
}

/**
 * Kubernetes' namespace controller: a namespace being deleted is emptied of every namespaced
 * kind (deleteCollection per resource, as the namespaced resources deleter does), its status
 * conditions say what is left and why, and once nothing is left its "kubernetes" finalizer is
 * removed so the apiserver drops it. The apiserver refuses new content meanwhile.
 */
export class NamespaceController implements RunnableController {
  readonly controller: Controller;
  readonly namespaces: Informer<Namespace>;
  readonly pods: Informer<Pod>;
  private readonly nsClient: ResourceClient<Namespace>;
  private readonly resources: { kind: KindInfo; client: ResourceClient<KubeObject> }[];
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(ctx: ControllerContext, opts: { workers?: number } = {}) {
    this.clock = ctx.clock;
    this.log = ctx.log;
    this.nsClient = ctx.client.resource<Namespace>("namespaces");
    this.resources = KINDS.filter((k) => k.namespaced).map((kind) => ({
      kind,
      client: ctx.client.resource<KubeObject>(kind),
    }));
    this.namespaces = ctx.informers.informerFor<Namespace>("namespaces");
    this.pods = ctx.informers.informerFor<Pod>("pods");
    this.controller = newControllerManagedBy(ctx)
      .named("namespace")
      // A deleted namespace is gone: nothing is left to empty.
      .for(this.namespaces, { predicates: [{ delete: () => false }] })
      // Pods are what usually remains (they stop gracefully): look again as soon as one is gone
      // rather than only when the estimate runs out.
      .watches(this.pods, (p) => this.deletingNamespaceOf(p), { predicates: [onlyDeletes] })
      .withOptions({ workers: opts.workers ?? 10 })
      .complete((key) => this.sync(key));
  }

  private deletingNamespaceOf(pod: Pod): string[] {
    const ns = this.namespaces.lister.get("", pod.metadata?.namespace ?? "");
    return ns?.metadata?.deletionTimestamp ? [ns.metadata.name] : [];
  }

  run(signal: AbortSignal): Promise<void> {
    return this.controller.run(signal);
  }

  /** syncNamespaceFromKey: nothing to do unless the namespace is being deleted and still ours. */
  async sync(name: string): Promise<{ requeueAfterMs: number } | undefined> {
    const ns = this.namespaces.lister.get("", name);
    if (!ns?.metadata?.deletionTimestamp) return undefined;
    if (!ns.spec?.finalizers.includes(FINALIZER_KUBERNETES)) return undefined;
    const result = await this.deleteAllContent(name);
    await this.updateConditions(ns, result);
    if (result.failures.length)
      throw new Error(
        `Failed to delete all resource types, ${result.failures.length} remaining: ${result.failures.join("; ")}`,
      );
    if (result.remaining.size > 0) {
      // Kubernetes waits half the estimate, then looks again.
      if (result.estimateSeconds === 0)
        throw new Error(`unexpected items still remain in namespace: ${name}`);
      return { requeueAfterMs: (Math.floor(result.estimateSeconds / 2) + 1) * 1000 };
    }
    await this.finalize(name);
    this.log.info({ namespace: name }, "namespace emptied; removed its kubernetes finalizer");
    return undefined;
  }

  private async deleteAllContent(namespace: string): Promise<DeletionResult> {
    const result: DeletionResult = {
      failures: [],
      remaining: new Map(),
      finalizers: new Map(),
      estimateSeconds: 0,
    };
    await Promise.all(
      this.resources.map(async ({ kind, client }) => {
        try {
          await client.deleteCollection({ namespace, propagationPolicy: "Background" });
          const { items } = await client.listAll({ namespace });
          if (items.length === 0) return;
          result.remaining.set(kind.resource, items.length);
          for (const item of items) {
            for (const f of item.metadata?.finalizers ?? [])
              result.finalizers.set(f, (result.finalizers.get(f) ?? 0) + 1);
            if (item.metadata?.finalizers.length)
              result.estimateSeconds = Math.max(result.estimateSeconds, FINALIZER_ESTIMATE_SECONDS);
            if (kind.kind === "Pod")
              result.estimateSeconds = Math.max(result.estimateSeconds, podGrace(item as Pod));
          }
        } catch (err) {
          if (!isNotFound(err)) result.failures.push(`${kind.resource}: ${(err as Error).message}`);
        }
      }),
    );
    return result;
  }

  /** The namespace's deletion conditions, written only when they change. */
  private async updateConditions(ns: Namespace, r: DeletionResult): Promise<void> {
    const bad: Partial<Record<ConditionType, [string, string]>> = {};
    if (r.failures.length)
      bad.NamespaceDeletionContentFailure = [
        "ContentDeletionFailed",
        `Failed to delete all resource types, ${r.failures.length} remaining: ${r.failures.join("; ")}`,
      ];
    if (r.remaining.size)
      bad.NamespaceContentRemaining = [
        "SomeResourcesRemain",
        `Some resources are remaining: ${[...r.remaining]
          .sort()
          .map(([res, n]) => `${res} has ${n} resource instances`)
          .join(", ")}`,
      ];
    if (r.finalizers.size)
      bad.NamespaceFinalizersRemaining = [
        "SomeFinalizersRemain",
        `Some content in the namespace has finalizers remaining: ${[...r.finalizers]
          .sort()
          .map(([f, n]) => `${f} in ${n} resource instances`)
          .join(", ")}`,
      ];
    const now = rfc3339(this.clock.now());
    const old = ns.status?.conditions ?? [];
    const conditions = CONDITION_TYPES.map((type) => {
      const [status, [reason, message]] = bad[type] ? ["True", bad[type]] : ["False", OK[type]];
      const prev = old.find((c) => c.type === type);
      if (prev && prev.status === status && prev.reason === reason && prev.message === message) return prev;
      return NamespaceCondition.fromPartial({
        type,
        status,
        reason,
        message,
        lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now,
      });
    });
    if (conditions.every((c, i) => c === old[i]) && old.length === conditions.length) return;
    try {
      await this.nsClient.updateStatus(
        Namespace.fromPartial({ ...ns, status: { ...ns.status, phase: "Terminating", conditions } }),
      );
    } catch (err) {
      // A stale copy: the next pass writes them from a fresh one.
      if (!isConflict(err) && !isNotFound(err)) throw err;
    }
  }

  /** The finalize subresource's effect: the kubernetes finalizer goes, the apiserver does the rest. */
  private async finalize(name: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      let ns: Namespace;
      try {
        ns = await this.nsClient.get(name);
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      const finalizers = ns.spec?.finalizers.filter((f) => f !== FINALIZER_KUBERNETES) ?? [];
      try {
        await this.nsClient.update(Namespace.fromPartial({ ...ns, spec: { ...ns.spec, finalizers } }));
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isConflict(err)) throw err;
      }
    }
    throw new Error(`could not finalize namespace ${name}: too many conflicts`);
  }
}

/** estimateGracefulTermination: a running pod may take its whole grace period to stop. */
function podGrace(pod: Pod): number {
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return 0;
  return pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
}
