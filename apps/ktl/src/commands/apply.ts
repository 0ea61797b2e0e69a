import { applyStrategicMergePatch, decodeObject, encodeObject, type KubeObject } from "@tskube/api";
import { isConflict, isNotFound } from "@tskube/machinery";
import type { Context } from "../context.js";
import { describeError } from "../errors.js";
import { readManifests } from "../inputs.js";
import { kindLabel } from "../printers/print.js";

export const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Keys the last apply set that the new manifest no longer has become null (deleted) in the patch. */
function withDeletions(last: unknown, next: unknown): unknown {
  if (!isObject(last) || !isObject(next)) return next;
  const out: Json = { ...next };
  for (const k of Object.keys(last)) {
    if (!(k in next)) out[k] = null;
    else out[k] = withDeletions(last[k], next[k]);
  }
  return out;
}

function sameObject(a: KubeObject, b: KubeObject): boolean {
  return JSON.stringify(encodeObject(a)) === JSON.stringify(encodeObject(b));
}

/**
 * `ktl apply -f`: creates what is missing and updates what differs, merging the manifest onto the
 * live object (so fields set by the server and by controllers survive) and removing fields an earlier
 * apply set but the manifest dropped, via the last-applied-configuration annotation as kubectl does.
 */
export async function apply(
  ctx: Context,
  files: string[],
  opts: { recursive: boolean; create?: boolean },
): Promise<void> {
  const docs = readManifests(files, opts.recursive, (m) => ctx.err(m));
  for (const doc of docs) {
    const { kind, object, source } = doc;
    const meta = object.metadata!;
    if (kind.namespaced) {
      if (meta.namespace && ctx.namespaceExplicit && meta.namespace !== ctx.namespace) {
        ctx.err(
          `error: the namespace from the provided object "${meta.namespace}" does not match the namespace "${ctx.namespace}". You must pass '--namespace=${meta.namespace}' to perform this operation.`,
        );
        continue;
      }
      meta.namespace ||= ctx.namespace;
    }
    const label = `${kindLabel(kind)}/${meta.name || meta.generateName}`;
    const resource = ctx.client().resource(kind);
    const manifest = encodeObject(object);
    let verb = "creating";
    try {
      if (opts.create) {
        await resource.create(object);
        ctx.out(`${label} created\n`);
        continue;
      }
      meta.annotations[LAST_APPLIED] = `${JSON.stringify(manifest)}\n`;
      for (let attempt = 0; ; attempt++) {
        let live: KubeObject | undefined;
        try {
          live = await resource.get(meta.name, { namespace: meta.namespace });
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        if (!live) {
          await resource.create(object);
          ctx.out(`${label} created\n`);
          break;
        }
        verb = "applying patch";
        const lastText = live.metadata?.annotations[LAST_APPLIED];
        const last = lastText ? (JSON.parse(lastText) as unknown) : undefined;
        const patch = withDeletions(last, encodeObject(object));
        const merged = decodeObject(applyStrategicMergePatch(encodeObject(live), patch)).object;
        merged.metadata!.resourceVersion = live.metadata!.resourceVersion;
        if (sameObject(merged, live)) {
          ctx.out(`${label} unchanged\n`);
          break;
        }
        try {
          const updated = await resource.update(merged);
          ctx.out(`${label} ${sameObject(updated, live) ? "unchanged" : "configured"}\n`);
          break;
        } catch (err) {
          if (!isConflict(err) || attempt >= 4) throw err;
        }
      }
    } catch (err) {
      ctx.err(describeError(err, `error when ${verb} "${source}"`));
    }
  }
}
