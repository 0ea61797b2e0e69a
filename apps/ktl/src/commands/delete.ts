import type { KindInfo, KubeObject } from "@tskube/api";
import type { PropagationPolicy } from "@tskube/client";
import { isNotFound } from "@tskube/machinery";
import type { Context } from "../context.js";
import { describeError, UsageError } from "../errors.js";
import { kindLabel } from "../printers/print.js";
import { resolveTargets } from "../targets.js";

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
  const targets = await resolveTargets(ctx, args, flags);
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
