import {
  type Deployment,
  encodeMessage,
  jsonEqual,
  kindForResource,
  type PodTemplateSpec,
  printing,
  type ReplicaSet,
} from "@tskube/api";
import { parseDuration } from "@tskube/machinery";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { kindLabel } from "../printers/print.js";
import {
  deploymentRolloutStatus,
  history,
  ownedReplicaSets,
  planRollback,
  RESTARTED_AT_ANNOTATION,
} from "../rollout.js";
import { resolveOne, resolveTargets, type Target } from "../targets.js";

const templateJson = (t: PodTemplateSpec | undefined) =>
  t ? encodeMessage("tskube.v1.PodTemplateSpec", t) : undefined;
const sameTemplate = (a: PodTemplateSpec | undefined, b: PodTemplateSpec | undefined) =>
  jsonEqual(templateJson(a), templateJson(b));

function deploymentOnly(t: Target, verb: string): void {
  if (t.kind.kind !== "Deployment")
    throw new UsageError(
      `${verb} is not supported for ${t.kind.resource}: only deployments have rollouts here`,
    );
}

async function getDeployment(ctx: Context, t: Target): Promise<Deployment> {
  return (await ctx.client().resource(t.kind).get(t.name, { namespace: t.namespace })) as Deployment;
}

async function replicaSetsOf(ctx: Context, d: Deployment): Promise<ReplicaSet[]> {
  const rsKind = kindForResource("replicasets")!;
  const list = await ctx.client().resource(rsKind).listAll({ namespace: d.metadata!.namespace });
  return ownedReplicaSets(d, list.items as ReplicaSet[]);
}

export interface StatusFlags {
  watch: boolean;
  timeout: string;
  revision?: string | undefined;
}

/** `ktl rollout status`: prints progress as it changes until the rollout is done or fails. */
export async function rolloutStatus(ctx: Context, args: string[], flags: StatusFlags): Promise<void> {
  const t = await resolveOne(ctx, args, "rollout status");
  deploymentOnly(t, "rollout status");
  const revision = flags.revision ? Number(flags.revision) : 0;
  if (!Number.isSafeInteger(revision) || revision < 0)
    throw new UsageError(`invalid --revision value: ${flags.revision}`);
  const timeoutMs = parseDuration(flags.timeout);
  const resource = ctx.client().resource(t.kind);
  const first = await getDeployment(ctx, t);
  let last = "";
  const show = (d: Deployment): boolean => {
    const s = deploymentRolloutStatus(d, revision);
    if (s.message !== last) ctx.out(`${s.message}\n`);
    last = s.message;
    return s.done;
  };
  if (show(first) || !flags.watch) return;
  const ac = new AbortController();
  const timer = timeoutMs > 0 ? setTimeout(() => ac.abort(), timeoutMs) : undefined;
  try {
    let rv = first.metadata!.resourceVersion;
    // The watch resumes from the last version seen if the stream breaks (apiserver failover).
    while (!ac.signal.aborted) {
      try {
        for await (const ev of resource.watch({
          namespace: t.namespace,
          fieldSelector: `metadata.name=${t.name}`,
          resourceVersion: rv,
          signal: ac.signal,
        })) {
          if (ev.type === "DELETED") throw new Error(`deployment "${t.name}" was deleted`);
          if (ev.type === "BOOKMARK") {
            rv = ev.object.metadata?.resourceVersion || rv;
            continue;
          }
          rv = ev.object.metadata!.resourceVersion;
          if (show(ev.object as Deployment)) return;
        }
      } catch (err) {
        if (ac.signal.aborted || (err as { reason?: string }).reason !== "ServiceUnavailable") throw err;
      }
    }
    throw new Error("timed out waiting for the condition");
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** `ktl rollout history [--revision N]`. */
export async function rolloutHistory(
  ctx: Context,
  args: string[],
  flags: { revision?: string },
): Promise<void> {
  for (const t of await resolveTargets(ctx, args)) {
    deploymentOnly(t, "rollout history");
    const d = await getDeployment(ctx, t);
    const entries = history(await replicaSetsOf(ctx, d));
    const label = `${kindLabel(t.kind)}/${t.name}`;
    if (flags.revision && flags.revision !== "0") {
      const n = Number(flags.revision);
      const entry = entries.find((e) => e.revision === n);
      if (!entry) throw new UsageError(`unable to find the specified revision`);
      ctx.out(`${label} with revision #${n}\n${printing.describePodTemplate(entry.template)}`);
      continue;
    }
    ctx.out(
      `${label}\n${printing.formatTable(
        ["REVISION", "CHANGE-CAUSE"],
        entries.map((e) => [String(e.revision), e.changeCause || "<none>"]),
      )}\n`,
    );
  }
}

/** `ktl rollout undo [--to-revision N]`: puts an older revision's template back. */
export async function rolloutUndo(
  ctx: Context,
  args: string[],
  flags: { toRevision?: string },
): Promise<void> {
  const toRevision = flags.toRevision ? Number(flags.toRevision) : 0;
  if (!Number.isSafeInteger(toRevision) || toRevision < 0)
    throw new UsageError(`invalid --to-revision value: ${flags.toRevision}`);
  for (const t of await resolveTargets(ctx, args)) {
    deploymentOnly(t, "rollout undo");
    const d = await getDeployment(ctx, t);
    const plan = planRollback(d, await replicaSetsOf(ctx, d), toRevision, sameTemplate);
    const label = `${kindLabel(t.kind)}/${t.name}`;
    if (plan.kind === "skip") {
      ctx.out(`${label} skipped rollback (current template already matches revision ${plan.revision})\n`);
      continue;
    }
    // Guarded on the version read, so a concurrent change is a conflict rather than overwritten.
    await ctx
      .client()
      .resource(t.kind)
      .patch(
        t.name,
        [
          { op: "test", path: "/metadata/resourceVersion", value: d.metadata!.resourceVersion },
          { op: "replace", path: "/spec/template", value: templateJson(plan.template) },
          // "add" replaces too, and also works when the object has no annotations yet.
          { op: "add", path: "/metadata/annotations", value: plan.annotations },
        ],
        { namespace: t.namespace, type: "json" },
      );
    ctx.out(`${label} rolled back\n`);
  }
}

/** `ktl rollout restart`: a new template annotation, so every pod is replaced by a rollout. */
export async function rolloutRestart(ctx: Context, args: string[], now = () => new Date()): Promise<void> {
  for (const t of await resolveTargets(ctx, args)) {
    deploymentOnly(t, "rollout restart");
    const d = await getDeployment(ctx, t);
    if (d.spec?.paused) throw new UsageError("can't restart paused deployment (run rollout resume first)");
    const at = now()
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z");
    await ctx
      .client()
      .resource(t.kind)
      .patch(
        t.name,
        { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: at } } } } },
        { namespace: t.namespace, type: "strategic" },
      );
    ctx.out(`${kindLabel(t.kind)}/${t.name} restarted\n`);
  }
}

/** `ktl rollout pause` / `resume`: spec.paused, reported "already …" when nothing changes. */
export async function rolloutPause(ctx: Context, args: string[], paused: boolean): Promise<void> {
  for (const t of await resolveTargets(ctx, args)) {
    deploymentOnly(t, paused ? "rollout pause" : "rollout resume");
    const d = await getDeployment(ctx, t);
    const label = `${kindLabel(t.kind)}/${t.name}`;
    if (!!d.spec?.paused === paused) {
      ctx.out(`${label} ${paused ? "already paused" : "already resumed"}\n`);
      continue;
    }
    await ctx
      .client()
      .resource(t.kind)
      .patch(t.name, { spec: { paused } }, { namespace: t.namespace, type: "merge" });
    ctx.out(`${label} ${paused ? "paused" : "resumed"}\n`);
  }
}
