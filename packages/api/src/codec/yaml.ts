import { errors } from "@tskube/machinery";
import {
  type DocumentOptions,
  type ParseOptions,
  parseAllDocuments,
  type SchemaOptions,
  stringify,
} from "yaml";
import { isPlainObject } from "./json-value.js";

/**
 * Kubernetes reads manifests with go-yaml v2, which speaks YAML 1.1: `0644` is octal (file modes),
 * `yes`/`on`/`y` are booleans and `<<` merges. It keeps timestamps as strings and has no sexagesimal
 * numbers (`1:20`), so those two YAML 1.1 tags are left out.
 */
const READ_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: "1.1",
  uniqueKeys: true,
  prettyErrors: false,
  customTags: (tags) =>
    tags.filter(
      (t) => typeof t === "string" || (t.tag !== "tag:yaml.org,2002:timestamp" && t.format !== "TIME"),
    ),
};

// Bounds alias expansion ("billion laughs") the way go-yaml refuses excessive aliasing.
const MAX_ALIAS_COUNT = 100;

/** The 1-based line of an offset; errors found at the end of the text belong to its last line. */
function lineOf(text: string, offset: number): number {
  const end = text.trimEnd().length;
  return text.slice(0, Math.min(offset, Math.max(end - 1, 0))).split("\n").length;
}

function parseError(source: string, text: string, offset: number, message: string) {
  const firstLine = message.split("\n")[0]!.replace(/\s+at line \d+, column \d+:?$/, "");
  return errors.badRequest(`error parsing ${source}: line ${lineOf(text, offset)}: ${firstLine}`);
}

/** `kind: List` and typed lists (`PodList`) stand for their items, as kubectl flattens them. */
function flatten(value: unknown, out: unknown[]): void {
  if (isPlainObject(value) && typeof value.kind === "string" && value.kind.endsWith("List")) {
    const { items } = value;
    if (Array.isArray(items) || (value.kind === "List" && (items === undefined || items === null))) {
      const itemKind = value.kind === "List" ? undefined : value.kind.slice(0, -"List".length);
      for (const item of (items as unknown[] | null | undefined) ?? []) {
        if (itemKind && isPlainObject(item)) {
          // Items of a typed list leave out their own apiVersion and kind.
          flatten({ apiVersion: value.apiVersion, kind: itemKind, ...item }, out);
        } else flatten(item, out);
      }
      return;
    }
  }
  out.push(value);
}

/**
 * Multi-document YAML (or JSON, which is YAML) → plain manifests. Empty documents are skipped and
 * lists expand to their items. Malformed YAML is a BadRequest naming the source and the line.
 */
export function parseManifests(text: string, source = "STDIN"): unknown[] {
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(text, READ_OPTIONS)) {
    const err = doc.errors[0];
    if (err) throw parseError(source, text, err.pos[0], err.message);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      throw parseError(source, text, doc.range[0], (e as Error).message);
    }
    if (value === null || value === undefined) continue;
    flatten(value, out);
  }
  return out;
}

/**
 * YAML as kubectl prints it: block style, 2-space indent, list items flush with their key, `{}` and
 * `[]` for empty collections, strings quoted where YAML 1.1 would read them as something else
 * (`"yes"`, `"0755"`, timestamps), multi-line strings as `|` blocks, and no line folding.
 */
export function toYaml(value: unknown): string {
  return stringify(value, { version: "1.1", indent: 2, indentSeq: false, lineWidth: 0, minContentWidth: 0 });
}
