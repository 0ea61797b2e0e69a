/** A parsed JSON value, as manifests and patches carry them. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export type JsonObject = { [key: string]: JsonValue };

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * Sets an own property even for keys such as `__proto__`: manifests and patches are user input, and
 * a plain assignment would change the object's prototype instead of adding a field that strict
 * decoding can then reject.
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export const hasOwn = (o: object, key: string): boolean => Object.hasOwn(o, key);

/** Structural equality of JSON values: object key order does not matter, list order does. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** A deep copy of a JSON value that keeps every key as an own property. */
export function jsonClone<T>(v: T): T {
  if (Array.isArray(v)) return v.map(jsonClone) as T;
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) setOwn(out, k, jsonClone(item));
    return out as T;
  }
  return v;
}

/** The compact JSON text Kubernetes quotes in error messages. */
export const compactJson = (v: unknown): string => JSON.stringify(v) ?? String(v);
