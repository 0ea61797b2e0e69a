import type { FieldError } from "@tskube/machinery";
import type { KubeObject } from "../kinds.js";
import { validateObjectMetaUpdate } from "./meta.js";
import type { Strategy } from "./types.js";

/**
 * Status is written through UpdateStatus only, so what a client sends with a create is dropped
 * (each Kubernetes strategy's PrepareForCreate resets it). Kinds without a status are untouched.
 */
export function resetStatus(obj: KubeObject): void {
  if ("status" in obj) (obj as { status?: unknown }).status = undefined;
}

/**
 * A strategy from its create-time checks and the hooks where the kind differs from Kubernetes'
 * generic store: an update re-runs validate plus the metadata immutability rules, a status write
 * checks only that metadata stayed put, a create drops the client's status, a delete has no grace
 * period and nothing beyond metadata finalizers holds an object.
 */
export function defineStrategy<T extends KubeObject>(
  s: Partial<Strategy<T>> & { validate: (obj: T) => FieldError[] },
): Strategy<T> {
  return {
    applyDefaults: s.applyDefaults ?? (() => {}),
    validate: s.validate,
    validateUpdate:
      s.validateUpdate ??
      ((obj, old) => [...s.validate(obj), ...validateObjectMetaUpdate(obj.metadata, old.metadata)]),
    validateStatusUpdate:
      s.validateStatusUpdate ?? ((obj, old) => validateObjectMetaUpdate(obj.metadata, old.metadata)),
    selectableFields: s.selectableFields ?? (() => ({})),
    prepareForCreate: s.prepareForCreate ?? resetStatus,
    prepareForUpdate: s.prepareForUpdate ?? (() => {}),
    gracePeriod: s.gracePeriod ?? (() => 0),
    markTerminating: s.markTerminating ?? (() => {}),
    blocksRemoval: s.blocksRemoval ?? (() => false),
  };
}
