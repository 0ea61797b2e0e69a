import type { KindInfo } from "@tskube/api";
import { type Context, resolveKind } from "./context.js";
import { UsageError } from "./errors.js";
import { readManifests } from "./inputs.js";

/** One object a command acts on. */
export interface Target {
  kind: KindInfo;
  namespace: string;
  name: string;
}

export interface TargetFlags {
  filename?: string[];
  recursive?: boolean;
  selector?: string | undefined;
  all?: boolean;
  allNamespaces?: boolean;
}

/**
 * The objects named the ways kubectl accepts: `TYPE NAME...`, `TYPE/NAME...`, `-f FILE`, or
 * `TYPE` with `-l SELECTOR` / `--all` (listed from the server).
 */
export async function resolveTargets(
  ctx: Context,
  args: string[],
  flags: TargetFlags = {},
): Promise<Target[]> {
  const targets: Target[] = [];
  if (flags.filename?.length) {
    if (args.length)
      throw new UsageError(
        "when paths, URLs, or stdin is provided as input, you may not specify a resource by arguments as well",
      );
    for (const d of readManifests(flags.filename, flags.recursive ?? false, (m) => ctx.err(m))) {
      targets.push({
        kind: d.kind,
        namespace: d.kind.namespaced ? d.object.metadata?.namespace || ctx.namespace : "",
        name: d.object.metadata!.name,
      });
    }
    return targets;
  }
  if (args.length === 0)
    throw new UsageError("You must provide one or more resources by argument or filename.");
  const ns = (kind: KindInfo) => (kind.namespaced ? ctx.namespace : "");
  if (args[0]!.includes("/")) {
    for (const a of args) {
      const [k, n, ...rest] = a.split("/");
      if (!k || !n || rest.length)
        throw new UsageError(`arguments in resource/name form must have a single resource and name`);
      const kind = resolveKind(k);
      targets.push({ kind, namespace: ns(kind), name: n });
    }
    return targets;
  }
  const kinds = args[0]!.split(",").map(resolveKind);
  const names = args.slice(1);
  if (names.length === 0 && !flags.all && !flags.selector)
    throw new UsageError("resource(s) were provided, but no name was specified");
  for (const kind of kinds) {
    if (names.length) {
      for (const name of names) targets.push({ kind, namespace: ns(kind), name });
      continue;
    }
    const list = await ctx
      .client()
      .resource(kind)
      .listAll({ namespace: flags.allNamespaces ? "" : ns(kind), labelSelector: flags.selector ?? "" });
    for (const o of list.items)
      targets.push({ kind, namespace: o.metadata!.namespace, name: o.metadata!.name });
  }
  return targets;
}

/** Exactly one object, for commands that take one (`rollout undo`, `edit` of a single name). */
export async function resolveOne(ctx: Context, args: string[], what: string): Promise<Target> {
  const targets = await resolveTargets(ctx, args);
  if (targets.length !== 1) throw new UsageError(`${what} takes exactly one resource, got ${targets.length}`);
  return targets[0]!;
}
