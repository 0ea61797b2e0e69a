import { isPlainObject, jsonClone, setOwn } from "./json-value.js";

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
