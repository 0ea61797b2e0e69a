import { selectorFromLabelSelector } from "@tskube/machinery";
import type { PodSpec } from "../../gen/tskube/v1/core.js";
import type { LabelSelector } from "../../gen/tskube/v1/meta.js";

export const none = (s: string | undefined) => (s ? s : "<none>");

/** kubectl's labels.FormatLabels: sorted `k=v` pairs, `<none>` when there are none. */
export function formatLabels(m: Record<string, string> | undefined): string {
  const entries = Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(",") : "<none>";
}

/** CONTAINERS and IMAGES of -o wide for workloads. */
export function containersAndImages(spec: PodSpec | undefined): [string, string] {
  const cs = spec?.containers ?? [];
  return [cs.map((c) => c.name).join(","), cs.map((c) => c.image).join(",")];
}

/** SELECTOR of -o wide: the selector as a label query string. */
export function selectorString(sel: LabelSelector | undefined): string {
  if (!sel) return "<none>";
  const s = selectorFromLabelSelector(sel).toString();
  return s || "<none>";
}
