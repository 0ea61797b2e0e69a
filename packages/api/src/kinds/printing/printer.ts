import type { Event } from "../../gen/tskube/v1/core.js";
import type { KindInfo, KubeObject } from "../../kinds.js";

/** A kind's `get` table (Kubernetes' printer column definitions and their print handler). */
export interface Columns<T extends KubeObject> {
  /** Columns after NAME (and NAMESPACE with -A); the last is usually AGE. */
  headers: readonly string[];
  /** Extra columns of -o wide. */
  wide: readonly string[];
  /** `wide` for -o wide, where some cells (a Service's EXTERNAL-IP) are not clipped. */
  row(obj: T, now: number, wide?: boolean): string[];
  wideRow(obj: T, now: number): string[];
  /** Events print without a NAME column: the object they are about names them. */
  withoutName?: boolean;
}

/** What a describer may read besides the object: its events, the clock, related objects. */
export interface DescribeContext {
  /** The object's events (involvedObject.uid), oldest first or in any order. */
  events: readonly Event[];
  now: number;
  /** Another object, or undefined when it does not exist or cannot be read. */
  get<K extends KubeObject>(kind: KindInfo<K>, namespace: string, name: string): Promise<K | undefined>;
}

/** How ktl shows a kind: its table columns and its describe text (kubectl's describer). */
export interface Printer<T extends KubeObject> {
  columns: Columns<T>;
  describe(obj: T, ctx: DescribeContext): Promise<string>;
}
