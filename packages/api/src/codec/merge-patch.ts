import { isPlainObject, jsonClone, jsonEqual, setOwn } from "./json-value.js";

/**
 * RFC 7386 JSON merge patch: objects merge key by key, null removes a key, anything else (lists
 * included) replaces. Neither argument is modified.
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return jsonClone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? jsonClone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else setOwn(out, k, applyMergePatch(Object.hasOwn(out, k) ? out[k] : undefined, v));
  }
  return out;
}

/**
 * The merge patch that turns original into modified (the inverse of applyMergePatch): changed and
 * added keys with their new values, removed keys as null. Undefined when nothing changed. kubectl
 * edit sends what the user changed this way, so fields others changed meanwhile are left alone.
 */
export function createMergePatch(original: unknown, modified: unknown): unknown {
  if (!isPlainObject(original) || !isPlainObject(modified))
    return jsonEqual(original, modified) ? undefined : jsonClone(modified);
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(original)) if (!Object.hasOwn(modified, k)) setOwn(patch, k, null);
  for (const [k, v] of Object.entries(modified)) {
    if (!Object.hasOwn(original, k)) setOwn(patch, k, jsonClone(v));
    else {
      const sub = createMergePatch(original[k], v);
      if (sub !== undefined) setOwn(patch, k, sub);
    }
  }
  return Object.keys(patch).length ? patch : undefined;
}
