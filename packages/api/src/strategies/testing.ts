import { decodeObject } from "../codec/json.js";
import { parseManifests } from "../codec/yaml.js";
import { type KubeObject, kindForTypeName } from "../kinds.js";

/**
 * A manifest as the apiserver would take it on create: decoded, placed in "default" when
 * namespaced, defaulted, then validated. Returns the object and the printed field errors.
 */
export function admit<T extends KubeObject>(yaml: string): { obj: T; errors: string[] } {
  const { kind, object } = decodeObject(parseManifests(yaml)[0]);
  if (kind.namespaced && object.metadata && !object.metadata.namespace) object.metadata.namespace = "default";
  const strategy = kindForTypeName(object.$type)!.strategy;
  strategy.applyDefaults(object);
  return { obj: object as T, errors: strategy.validate(object).map(String) };
}

/** Printed errors of updating `old` with `change` applied to a copy of it (defaulted first, as on the server). */
export function update<T extends KubeObject>(old: T, change: (obj: T) => void): string[] {
  const strategy = kindForTypeName(old.$type)!.strategy;
  const obj = structuredClone(old);
  change(obj);
  strategy.applyDefaults(obj);
  return strategy.validateUpdate(obj, old).map(String);
}
