import type { Event } from "../../gen/tskube/v1/core.js";
import type { KubeObject } from "../../kinds.js";
import { describeEvents } from "./events.js";
import type { DescribeContext } from "./printer.js";

/** Accumulates `Key:  value` lines with kubectl describe's alignment and indentation. */
export class Writer {
  private lines: string[] = [];
  line(indent: number, key: string, value?: string | number): void {
    const pad = "  ".repeat(indent);
    if (value === undefined) this.lines.push(`${pad}${key}`);
    else this.lines.push(`${pad}${`${key}:`.padEnd(Math.max(key.length + 2, 18 - indent * 2))}${value}`);
  }
  map(indent: number, key: string, m: Record<string, string> | undefined): void {
    const entries = Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
    if (!entries.length) {
      this.line(indent, key, "<none>");
      return;
    }
    entries.forEach(([k, v], i) => {
      if (i === 0) this.line(indent, key, `${k}=${v}`);
      else
        this.lines.push(
          `${"  ".repeat(indent)}${"".padEnd(Math.max(key.length + 2, 18 - indent * 2))}${k}=${v}`,
        );
    });
  }
  raw(text: string): void {
    this.lines.push(text);
  }
  toString(): string {
    return `${this.lines.join("\n")}\n`;
  }
}

export const orNone = (s: string | undefined) => (s ? s : "<none>");

function metaHeader(w: Writer, obj: KubeObject, namespaced: boolean): void {
  const m = obj.metadata!;
  w.line(0, "Name", m.name);
  if (namespaced) w.line(0, "Namespace", m.namespace);
  w.line(0, "CreationTimestamp", new Date(m.creationTimestamp).toUTCString());
  w.map(0, "Labels", m.labels);
  const annotations = Object.fromEntries(
    Object.entries(m.annotations).filter(([k]) => k !== "kubectl.kubernetes.io/last-applied-configuration"),
  );
  w.map(0, "Annotations", annotations);
}

/** kubectl's events table (its own alignment block, padding 2), or `Events: <none>`. */
function events(w: Writer, list: readonly Event[], now: number): void {
  if (!list.length) w.line(0, "Events", "<none>");
  else w.raw(describeEvents(list, now).table.trimEnd());
}

/**
 * A describer in the Writer layout: the metadata block, the kind's own sections (none for kinds
 * kubectl describes by metadata alone), then the events.
 */
export function sectionsDescriber<T extends KubeObject>(
  namespaced: boolean,
  sections: (w: Writer, obj: T) => void = () => {},
): (obj: T, ctx: DescribeContext) => Promise<string> {
  return async (obj, ctx) => {
    const w = new Writer();
    metaHeader(w, obj, namespaced);
    sections(w, obj);
    events(w, ctx.events, ctx.now);
    return w.toString();
  };
}
