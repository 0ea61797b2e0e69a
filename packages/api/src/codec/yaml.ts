import { errors } from "@tskube/machinery";
import { parseAllDocuments, stringify } from "yaml";

/**
 * Multi-document YAML (or JSON, which is YAML) → plain manifests. Empty documents are skipped and
 * `kind: List` expands to its items. Syntax errors name the source and line.
 */
export function parseManifests(text: string, source = "<stdin>"): unknown[] {
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true })) {
    const err = doc.errors[0];
    if (err) {
      const offset = err.pos[0];
      const line = text.slice(0, offset).split("\n").length;
      throw errors.badRequest(
        `error parsing ${source}: ${line ? `line ${line}: ` : ""}${err.message.split("\n")[0]}`,
      );
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue;
    if (typeof value === "object" && !Array.isArray(value) && (value as { kind?: unknown }).kind === "List") {
      const items = (value as { items?: unknown }).items;
      if (Array.isArray(items)) out.push(...items);
      continue;
    }
    out.push(value);
  }
  return out;
}

/** YAML as kubectl prints it: block style, 2 spaces, list items flush with their key. */
export function toYaml(value: unknown): string {
  return stringify(value, { indent: 2, indentSeq: false, lineWidth: 0, minContentWidth: 0 });
}

/** JSON as `kubectl -o json` prints it (4-space indent). */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 4)}\n`;
}
