import { encodeObject } from "@tskube/api";
import type { Context } from "../context.js";
import { describeError, UsageError } from "../errors.js";
import { kindLabel } from "../printers/print.js";
import { resolveTargets, type TargetFlags } from "../targets.js";

type Json = Record<string, unknown>;

/** Where a kind keeps its pod spec, as JSON field names from the object's root. */
export const POD_SPEC_PATH: Record<string, string[]> = {
  Pod: ["spec"],
  ReplicaSet: ["spec", "template", "spec"],
  Deployment: ["spec", "template", "spec"],
  StatefulSet: ["spec", "template", "spec"],
  DaemonSet: ["spec", "template", "spec"],
  Job: ["spec", "template", "spec"],
  CronJob: ["spec", "jobTemplate", "spec", "template", "spec"],
  ReplicationController: ["spec", "template", "spec"],
};

/** `NAME=IMAGE` arguments after the resources; `*=IMAGE` means every container. */
export function splitImages(args: string[]): { resources: string[]; images: Map<string, string> } {
  const resources: string[] = [];
  const images = new Map<string, string>();
  for (const a of args) {
    const eq = a.indexOf("=");
    if (eq > 0) images.set(a.slice(0, eq), a.slice(eq + 1));
    else if (images.size) throw new UsageError(`all resources must be specified before image changes: ${a}`);
    else resources.push(a);
  }
  if (images.size === 0) throw new UsageError("at least one image update is required");
  for (const [name, image] of images)
    if (!image) throw new UsageError(`invalid image for container "${name}"`);
  return { resources, images };
}

/**
 * The strategic merge patch (containers merge by name) that sets the images, or undefined when
 * every image is already what was asked. Throws when a named container does not exist.
 */
export function imagePatch(obj: Json, kind: string, images: Map<string, string>): Json | undefined {
  const path = POD_SPEC_PATH[kind];
  if (!path) throw new UsageError(`${kind} has no pod template: its images cannot be set`);
  let spec: unknown = obj;
  for (const p of path) spec = (spec as Json | undefined)?.[p];
  const podSpec = (spec ?? {}) as { containers?: Json[]; initContainers?: Json[] };
  const patchSpec: Json = {};
  let changed = false;
  for (const [name, image] of images) {
    let found = false;
    for (const field of ["initContainers", "containers"] as const) {
      for (const c of podSpec[field] ?? []) {
        if (name !== "*" && c.name !== name) continue;
        found = true;
        if (c.image === image) continue;
        changed = true;
        const list = (patchSpec[field] as Json[] | undefined) ?? [];
        list.push({ name: c.name, image });
        patchSpec[field] = list;
      }
    }
    if (!found && name !== "*") throw new UsageError(`unable to find container named "${name}"`);
  }
  if (!changed) return undefined;
  let patch: Json = patchSpec;
  for (const p of [...path].reverse()) patch = { [p]: patch };
  return patch;
}

/** `ktl set image TYPE NAME CONTAINER=IMAGE...`. */
export async function setImage(ctx: Context, args: string[], flags: TargetFlags): Promise<void> {
  const { resources, images } = splitImages(args);
  for (const t of await resolveTargets(ctx, resources, flags)) {
    const label = `${kindLabel(t.kind)}/${t.name}`;
    try {
      const resource = ctx.client().resource(t.kind);
      const live = await resource.get(t.name, { namespace: t.namespace });
      const patch = imagePatch(encodeObject(live) as Json, t.kind.kind, images);
      if (patch) await resource.patch(t.name, patch, { namespace: t.namespace, type: "strategic" });
      ctx.out(`${label} image updated\n`);
    } catch (err) {
      if (err instanceof UsageError) ctx.err(`error: ${err.message}`);
      else ctx.err(describeError(err));
    }
  }
}
