import {
  apiVersionOf,
  encodeObject,
  type KindDefinition,
  type KindInfo,
  type KubeObject,
  printing,
  toJson,
  toYaml,
} from "@tskube/api";

export type OutputFormat = "" | "wide" | "yaml" | "json" | "name";

export interface PrintOptions {
  output: OutputFormat;
  showLabels: boolean;
  allNamespaces: boolean;
  /** Prefix names with their kind ("deployment.apps/web"), as kubectl does for several kinds. */
  showKind: boolean;
  noHeaders: boolean;
  now: number;
}

/** "pod", "deployment.apps": how kubectl names a kind in output. */
export function kindLabel(kind: KindInfo): string {
  return kind.group ? `${kind.kind.toLowerCase()}.${kind.group}` : kind.kind.toLowerCase();
}

export function labelsString(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(",") : "<none>";
}

/** Rows of a table for one kind (without headers). */
export function tableRows(kind: KindDefinition, objects: readonly KubeObject[], o: PrintOptions): string[][] {
  const cols = kind.printer.columns;
  return objects.map((obj) => {
    const row: string[] = [];
    if (o.allNamespaces && kind.namespaced) row.push(obj.metadata?.namespace ?? "");
    if (!cols.withoutName)
      row.push(o.showKind ? `${kindLabel(kind)}/${obj.metadata?.name}` : (obj.metadata?.name ?? ""));
    row.push(...cols.row(obj, o.now, o.output === "wide"));
    if (o.output === "wide") row.push(...cols.wideRow(obj, o.now));
    if (o.showLabels) row.push(labelsString(obj.metadata?.labels));
    return row;
  });
}

export function tableHeaders(kind: KindDefinition, o: PrintOptions): string[] {
  const cols = kind.printer.columns;
  const h: string[] = [];
  if (o.allNamespaces && kind.namespaced) h.push("NAMESPACE");
  if (!cols.withoutName) h.push("NAME");
  h.push(...cols.headers);
  if (o.output === "wide") h.push(...cols.wide);
  if (o.showLabels) h.push("LABELS");
  return h;
}

export function printTable(kind: KindDefinition, objects: readonly KubeObject[], o: PrintOptions): string {
  return printing.formatTable(o.noHeaders ? undefined : tableHeaders(kind, o), tableRows(kind, objects, o));
}

/** -o yaml|json: one object as itself, several as a v1 List, as kubectl prints them. */
export function printStructured(
  objects: readonly KubeObject[],
  format: "yaml" | "json",
  single: boolean,
): string {
  const docs = objects.map((o) => encodeObject(o));
  const value =
    single && docs.length === 1
      ? docs[0]
      : { apiVersion: "v1", items: docs, kind: "List", metadata: { resourceVersion: "" } };
  return format === "yaml" ? toYaml(value) : toJson(value);
}

export function printNames(kind: KindInfo, objects: readonly KubeObject[]): string {
  return objects.map((o) => `${kindLabel(kind)}/${o.metadata?.name}\n`).join("");
}

export { apiVersionOf };
