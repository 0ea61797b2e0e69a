import type { Context } from "../context.js";
import { describeError, UsageError } from "../errors.js";
import { kindLabel } from "../printers/print.js";
import { resolveTargets, type TargetFlags } from "../targets.js";

/** Kinds with a scale subresource in Kubernetes (spec.replicas). */
const SCALABLE = new Set(["Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"]);

export interface ScaleFlags extends TargetFlags {
  replicas?: string | undefined;
  currentReplicas?: string | undefined;
  resourceVersion?: string | undefined;
}

const count = (v: string | undefined): number | undefined =>
  v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;

/** `ktl scale --replicas=N TYPE NAME`: sets spec.replicas, with kubectl's optional preconditions. */
export async function scale(ctx: Context, args: string[], flags: ScaleFlags): Promise<void> {
  const replicas = count(flags.replicas);
  if (replicas === undefined)
    throw new UsageError(
      "The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0",
    );
  if (
    flags.currentReplicas !== undefined &&
    count(flags.currentReplicas) === undefined &&
    flags.currentReplicas !== "-1"
  )
    throw new UsageError(`invalid --current-replicas value: ${flags.currentReplicas}`);
  const expected = flags.currentReplicas === "-1" ? undefined : count(flags.currentReplicas);
  const targets = await resolveTargets(ctx, args, flags);
  if (targets.length === 0) throw new UsageError("no objects passed to scale");
  for (const t of targets) {
    const label = `${kindLabel(t.kind)}/${t.name}`;
    if (!SCALABLE.has(t.kind.kind)) {
      ctx.err(`error: cannot scale ${label}: the ${t.kind.resource} resource has no scale subresource`);
      continue;
    }
    try {
      const resource = ctx.client().resource(t.kind);
      const metadata: Record<string, unknown> = {};
      if (expected !== undefined || flags.resourceVersion) {
        const live = (await resource.get(t.name, { namespace: t.namespace })) as unknown as {
          metadata: { resourceVersion: string };
          spec?: { replicas?: number };
        };
        const have = live.spec?.replicas ?? 0;
        if (expected !== undefined && have !== expected) {
          ctx.err(`error: Expected replicas to be ${expected}, was ${have}`);
          continue;
        }
        // The precondition holds only for the version just read (or the one given).
        metadata.resourceVersion = flags.resourceVersion || live.metadata.resourceVersion;
      }
      await resource.patch(
        t.name,
        { metadata, spec: { replicas } },
        { namespace: t.namespace, type: "merge" },
      );
      ctx.out(`${label} scaled\n`);
    } catch (err) {
      ctx.err(describeError(err));
    }
  }
}
