import type { Context } from "../context.js";
import { describeError, UsageError } from "../errors.js";
import { kindLabel } from "../printers/print.js";
import { resolveTargets, type TargetFlags } from "../targets.js";

export interface MetadataMapFlags extends TargetFlags {
  overwrite: boolean;
  list: boolean;
  resourceVersion?: string | undefined;
}

type Field = "labels" | "annotations";

interface Changes {
  set: Map<string, string>;
  remove: string[];
}

/** `KEY=VALUE` and `KEY-` arguments after the resource arguments, as kubectl label/annotate read them. */
export function splitChanges(args: string[], field: Field): { resources: string[]; changes: Changes } {
  const resources: string[] = [];
  const changes: Changes = { set: new Map(), remove: [] };
  for (const a of args) {
    const eq = a.indexOf("=");
    if (eq > 0) changes.set.set(a.slice(0, eq), a.slice(eq + 1));
    else if (a.endsWith("-") && a.length > 1) changes.remove.push(a.slice(0, -1));
    else if (changes.set.size || changes.remove.length)
      throw new UsageError(
        `all resources must be specified before ${field === "labels" ? "label" : "annotation"} changes: ${a}`,
      );
    else resources.push(a);
  }
  for (const k of changes.remove)
    if (changes.set.has(k))
      throw new UsageError(
        `can not both modify and remove ${field === "labels" ? "a label" : "an annotation"} in the same command`,
      );
  return { resources, changes };
}

/**
 * The new map, or an error when a key would change without --overwrite. Keys to remove that are
 * absent are reported, as kubectl does, and skipped.
 */
export function applyChanges(
  current: Record<string, string>,
  changes: Changes,
  overwrite: boolean,
  warn: (msg: string) => void,
  field: Field,
): Record<string, string> {
  const next = { ...current };
  for (const [k, v] of changes.set) {
    if (!overwrite && k in current && current[k] !== v)
      throw new UsageError(`'${k}' already has a value (${current[k]}), and --overwrite is false`);
    next[k] = v;
  }
  for (const k of changes.remove) {
    if (!(k in next)) warn(`${field === "labels" ? "label" : "annotation"} "${k}" not found.`);
    delete next[k];
  }
  return next;
}

function same(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

/** `ktl label` / `ktl annotate`: change or list a metadata map on one or many objects. */
export async function editMetadataMap(
  ctx: Context,
  field: Field,
  args: string[],
  flags: MetadataMapFlags,
): Promise<void> {
  const { resources, changes } = splitChanges(args, field);
  if (!flags.list && changes.set.size === 0 && changes.remove.length === 0)
    throw new UsageError(`at least one ${field === "labels" ? "label" : "annotation"} update is required`);
  for (const t of await resolveTargets(ctx, resources, flags)) {
    const label = `${kindLabel(t.kind)}/${t.name}`;
    const resource = ctx.client().resource(t.kind);
    try {
      const live = await resource.get(t.name, { namespace: t.namespace });
      const current = live.metadata?.[field] ?? {};
      if (flags.list) {
        for (const k of Object.keys(current).sort()) ctx.out(`${k}=${current[k]}\n`);
        continue;
      }
      const next = applyChanges(current, changes, flags.overwrite, (m) => ctx.err(m), field);
      if (same(current, next)) {
        ctx.out(`${label} ${field === "labels" ? "not labeled" : "annotated"}\n`);
        continue;
      }
      const patchMap: Record<string, string | null> = {};
      for (const k of Object.keys(current)) if (!(k in next)) patchMap[k] = null;
      for (const [k, v] of Object.entries(next)) if (current[k] !== v) patchMap[k] = v;
      const metadata: Record<string, unknown> = { [field]: patchMap };
      if (flags.resourceVersion) metadata.resourceVersion = flags.resourceVersion;
      await resource.patch(t.name, { metadata }, { namespace: t.namespace, type: "merge" });
      const verb =
        field === "annotations"
          ? "annotated"
          : !flags.overwrite && Object.keys(next).length < Object.keys(current).length
            ? "unlabeled"
            : "labeled";
      ctx.out(`${label} ${verb}\n`);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      ctx.err(describeError(err));
    }
  }
}
