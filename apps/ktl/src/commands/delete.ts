import type { KindInfo, KubeObject } from "@tskube/api";
import type { PropagationPolicy } from "@tskube/client";
import { isNotFound } from "@tskube/machinery";
import { type Context, resolveKind } from "../context.js";
import { describeError, UsageError } from "../errors.js";
import { readManifests } from "../inputs.js";
import { kindLabel } from "../printers/print.js";

export interface DeleteFlags {
  filename: string[];
  recursive: boolean;
  selector?: string;
  all: boolean;
  allNamespaces: boolean;
  gracePeriod?: string;
  cascade: string;
  wait: boolean;
  ignoreNotFound: boolean;
  timeout: string;
}

const CASCADE: Record<string, PropagationPolicy> = {
  background: "Background",
  true: "Background",
  foreground: "Foreground",
  orphan: "Orphan",
  false: "Orphan",
};

/** `ktl delete`: names, -f, -l or --all; waits for the objects to be gone unless --wait=false. */
export async function del(ctx: Context, args: string[], flags: DeleteFlags): Promise<void> {
  const propagationPolicy = CASCADE[flags.cascade];
  if (!propagationPolicy)
    throw new UsageError(
      `invalid cascade value (${flags.cascade}). Must be "background", "foreground", or "orphan".`,
    );
  const gracePeriodSeconds =
    flags.gracePeriod !== undefined && Number(flags.gracePeriod) >= 0 ? Number(flags.gracePeriod) : undefined;
  const targets: { kind: KindInfo; namespace: string; name: string }[] = [];
  if (flags.filename.length) {
    for (const d of readManifests(flags.filename, flags.recursive, (m) => ctx.err(m))) {
      targets.push({
        kind: d.kind,
        namespace: d.object.metadata?.namespace || ctx.namespace,
        name: d.object.metadata!.name,
      });
    }
  } else {
    if (args.length === 0) {
      throw new UsageError("You must provide one or more resources by argument or filename.");
    }
    let kinds: KindInfo[];
    let names: string[];
    if (args[0]!.includes("/")) {
      const pairs = args.map((a) => a.split("/") as [string, string]);
      for (const [k, n] of pairs) targets.push({ kind: resolveKind(k), namespace: ctx.namespace, name: n });
      kinds = [];
      names = [];
    } else {
      kinds = args[0]!.split(",").map(resolveKind);
      names = args.slice(1);
    }
    if (kinds.length) {
      if (names.length === 0 && !flags.all && !flags.selector) {
        throw new UsageError("resource(s) were provided, but no name was specified");
      }
      for (const kind of kinds) {
        if (names.length) {
          for (const name of names) targets.push({ kind, namespace: ctx.namespace, name });
          continue;
        }
        const list = await ctx
          .client()
          .resource(kind)
          .listAll({
            namespace: flags.allNamespaces ? "" : ctx.namespace,
            labelSelector: flags.selector ?? "",
          });
        for (const o of list.items)
          targets.push({ kind, namespace: o.metadata!.namespace, name: o.metadata!.name });
        if (list.items.length === 0) process.stderr.write(`No resources found\n`);
      }
    }
  }
  const waiting: { kind: KindInfo; namespace: string; name: string; uid: string }[] = [];
  for (const t of targets) {
    const ns = t.kind.namespaced ? t.namespace : "";
    try {
      const res = await ctx
        .client()
        .resource(t.kind)
        .delete(t.name, { namespace: ns, propagationPolicy, gracePeriodSeconds });
      ctx.out(`${kindLabel(t.kind)} "${t.name}" deleted\n`);
      if (!res.deleted) waiting.push({ ...t, namespace: ns, uid: res.object.metadata?.uid ?? "" });
    } catch (err) {
      if (isNotFound(err) && flags.ignoreNotFound) continue;
      ctx.err(describeError(err));
    }
  }
  if (!flags.wait || waiting.length === 0) return;
  const deadline =
    flags.timeout === "0s" ? Number.POSITIVE_INFINITY : Date.now() + parseTimeout(flags.timeout);
  for (const w of waiting) {
    for (;;) {
      let obj: KubeObject | undefined;
      try {
        obj = await ctx.client().resource(w.kind).get(w.name, { namespace: w.namespace });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (!obj || obj.metadata?.uid !== w.uid) break;
      if (Date.now() > deadline) {
        ctx.err(`error: timed out waiting for the condition on ${kindLabel(w.kind)}/${w.name}`);
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

function parseTimeout(s: string): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(s);
  if (!m) throw new UsageError(`invalid timeout ${JSON.stringify(s)}`);
  const n = Number(m[1]);
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"] ?? 1000);
}
