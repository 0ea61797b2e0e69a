import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMergePatch, decodeObject, encodeObject, parseManifests, toJson, toYaml } from "@tskube/api";
import { isConflict } from "@tskube/machinery";
import type { Context } from "../context.js";
import { describeError, UsageError } from "../errors.js";
import { kindLabel } from "../printers/print.js";
import { resolveTargets, type TargetFlags } from "../targets.js";

const HEADER = [
  "# Please edit the object below. Lines beginning with a '#' will be ignored,",
  "# and an empty file will abort the edit. If an error occurs while saving this file will be",
  "# reopened with the relevant failures.",
  "#",
].join("\n");

export interface EditFlags extends TargetFlags {
  output: string;
}

/** $KUBE_EDITOR, then $EDITOR, then vi, run through the shell as kubectl does (so "code -w" works). */
function runEditor(file: string): void {
  const editor = process.env.KUBE_EDITOR || process.env.EDITOR || "vi";
  const r = spawnSync("sh", ["-c", `${editor} "$1"`, "ktl-edit", file], { stdio: "inherit" });
  if (r.error) throw new UsageError(`unable to launch the editor "${editor}": ${r.error.message}`);
  if (r.status !== 0) throw new UsageError(`there was a problem with the editor "${editor}"`);
}

const withoutComments = (text: string) =>
  text
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .join("\n");

/**
 * `ktl edit TYPE NAME`: the object in $EDITOR; on save, what changed is sent as a merge patch
 * guarded on the version that was edited, so a change made meanwhile by someone else is reported
 * as a conflict instead of being overwritten. Invalid edits reopen the editor with the errors on
 * top; saving the same invalid text again gives up.
 */
export async function edit(ctx: Context, args: string[], flags: EditFlags): Promise<void> {
  const format = flags.output || "yaml";
  if (format !== "yaml" && format !== "json")
    throw new UsageError(`--output must be yaml or json, got "${format}"`);
  const dir = mkdtempSync(join(tmpdir(), "ktl-edit-"));
  for (const t of await resolveTargets(ctx, args, flags)) {
    const resource = ctx.client().resource(t.kind);
    const live = await resource.get(t.name, { namespace: t.namespace });
    const original = encodeObject(live) as Record<string, unknown>;
    const file = join(dir, `${t.kind.resource}-${t.name}.${format}`);
    const render = (doc: unknown) => (format === "yaml" ? toYaml(doc) : toJson(doc));
    let text = `${HEADER}\n${render(original)}`;
    let previous: string | undefined;
    for (;;) {
      writeFileSync(file, text);
      runEditor(file);
      const edited = readFileSync(file, "utf8");
      const body = withoutComments(edited);
      if (!body.trim()) {
        ctx.out("Edit cancelled, saved file was empty.\n");
        break;
      }
      if (previous !== undefined && body === previous) {
        ctx.err(`A copy of your changes has been stored to "${file}"`);
        ctx.err("error: Edit cancelled, no valid changes were saved.");
        break;
      }
      if (body === withoutComments(`${HEADER}\n${render(original)}`)) {
        ctx.out("Edit cancelled, no changes made.\n");
        break;
      }
      let failure: string;
      try {
        const docs = parseManifests(body, file);
        if (docs.length !== 1) throw new UsageError("the edited file must contain exactly one object");
        // Decoding checks field names and types as apply does.
        const { kind, object } = decodeObject(docs[0]);
        if (kind.kind !== t.kind.kind || object.metadata?.name !== t.name)
          throw new UsageError("At least one of apiVersion, kind and name was changed");
        const patch = createMergePatch(original, encodeObject(object)) as Record<string, unknown> | undefined;
        if (!patch) {
          ctx.out("Edit cancelled, no changes made.\n");
          break;
        }
        const metadata = { ...((patch.metadata as Record<string, unknown> | undefined) ?? {}) };
        metadata.resourceVersion = live.metadata!.resourceVersion;
        await resource.patch(t.name, { ...patch, metadata }, { namespace: t.namespace, type: "merge" });
        ctx.out(`${kindLabel(t.kind)}/${t.name} edited\n`);
        break;
      } catch (err) {
        if (isConflict(err)) {
          // Someone changed the object since it was opened: keep the user's work and say so.
          ctx.err(`A copy of your changes has been stored to "${file}"`);
          ctx.err(describeError(err));
          break;
        }
        failure = describeError(err);
      }
      previous = body;
      text = `${HEADER}\n# ${kindLabel(t.kind)} "${t.name}" was not valid:\n${failure
        .split("\n")
        .map((l) => `# * ${l}`)
        .join("\n")}\n#\n${body}`;
    }
  }
}
