import type { KubeObject } from "@tskube/api";
import { errors, parseFieldSelector, parseSelector } from "@tskube/machinery";

/** Decides whether an object is in a list/watch: label selector AND field selector. */
export interface Selection {
  matches(obj: KubeObject): boolean;
  /** True when nothing is filtered (pagination can then report remainingItemCount). */
  everything: boolean;
}

/**
 * The field values of an object, worked out once per object: every watcher with a field selector
 * (a kubelet's spec.nodeName=…) tests each event's object, and the cache's objects never change.
 */
const memo = new WeakMap<KubeObject, Record<string, string>>();

/**
 * Builds the predicate for a request. Field selectors may only name metadata.name,
 * metadata.namespace and the kind's selectable fields, as Kubernetes refuses the rest.
 */
export function buildSelection(
  labelSelector: string,
  fieldSelector: string,
  selectableFields: (obj: KubeObject) => Record<string, string>,
  supportedFields: readonly string[],
): Selection {
  const labels = parseSelector(labelSelector);
  const fields = parseFieldSelector(fieldSelector);
  const allowed = new Set(["metadata.name", "metadata.namespace", ...supportedFields]);
  for (const f of fields.fieldNames()) {
    if (!allowed.has(f)) throw errors.badRequest(`field label not supported: ${f}`);
  }
  const labelsEmpty = labels.empty();
  const fieldsEmpty = fields.empty();
  return {
    everything: labelsEmpty && fieldsEmpty,
    matches(obj) {
      const m = obj.metadata;
      if (!labelsEmpty && !labels.matches(m?.labels ?? {})) return false;
      if (fieldsEmpty) return true;
      let values = memo.get(obj);
      if (!values) {
        values = {
          "metadata.name": m?.name ?? "",
          "metadata.namespace": m?.namespace ?? "",
          ...selectableFields(obj),
        };
        memo.set(obj, values);
      }
      return fields.matches(values);
    },
  };
}
