import { errors } from "@tskube/machinery";
import { messageTypeRegistry } from "../gen/typeRegistry.js";
import { apiVersionOf, type KindInfo, type KubeObject, kindForManifest, kindForTypeName } from "../kinds.js";
import { type FieldSchema, messageSchema, type ScalarKind } from "./schema.js";

/** A manifest that does not fit the schema: the field path and what is wrong with it. */
export class DecodeError extends Error {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

const describe = (v: unknown) =>
  typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));

function invalid(path: string, value: unknown, expected: string): DecodeError {
  return new DecodeError(path, `${path}: Invalid value: ${describe(value)}: expected ${expected}`);
}

const join = (path: string, name: string) => (path ? `${path}.${name}` : name);

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
const UINT32 = { min: 0, max: 2 ** 32 - 1 };

function decodeScalar(
  kind: ScalarKind,
  f: { format?: FieldSchema["format"]; bits64?: boolean },
  v: unknown,
  path: string,
): unknown {
  switch (kind) {
    case "string":
      if (typeof v === "string") return v;
      if (
        (f.format === "int-or-string" && typeof v === "number" && Number.isInteger(v)) ||
        (f.format === "quantity" && typeof v === "number")
      ) {
        return String(v);
      }
      throw invalid(path, v, f.format === "int-or-string" ? "an integer or a string" : "a string");
    case "bool":
      if (typeof v === "boolean") return v;
      throw invalid(path, v, "a boolean");
    case "int":
    case "uint": {
      if (typeof v !== "number" || !Number.isInteger(v)) throw invalid(path, v, "an integer");
      const range = f.bits64
        ? { min: kind === "uint" ? 0 : Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }
        : kind === "uint"
          ? UINT32
          : INT32;
      if (v < range.min || v > range.max) {
        throw new DecodeError(
          path,
          `${path}: Invalid value: ${v}: must be between ${range.min} and ${range.max}, inclusive`,
        );
      }
      return v;
    }
    case "float":
      if (typeof v === "number") return v;
      throw invalid(path, v, "a number");
    case "bytes":
      if (typeof v !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(v.replace(/\s/g, ""))) {
        throw invalid(path, v, "base64-encoded data");
      }
      return new Uint8Array(Buffer.from(v, "base64"));
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function decodeField(f: FieldSchema, v: unknown, path: string): unknown {
  if (f.map) {
    if (!isPlainObject(v)) throw invalid(path, v, "an object");
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) {
      const p = `${path}[${k}]`;
      if (item === null) continue;
      out[k] = f.map.message ? decodeFields(f.map.message, item, p) : decodeScalar(f.map.scalar!, f, item, p);
    }
    return out;
  }
  if (f.repeated) {
    if (!Array.isArray(v)) throw invalid(path, v, "a list");
    return v.map((item, i) => decodeSingle(f, item, `${path}[${i}]`));
  }
  return decodeSingle(f, v, path);
}

function decodeSingle(f: FieldSchema, v: unknown, path: string): unknown {
  if (f.message) return decodeFields(f.message, v, path);
  return decodeScalar(f.scalar!, f, v, path);
}

/** JSON → the partial ts-proto shape (property names in camelCase, no defaults filled yet). */
function decodeFields(typeName: string, json: unknown, path: string): Record<string, unknown> {
  if (!isPlainObject(json)) throw invalid(path || "<root>", json, "an object");
  const schema = messageSchema(typeName);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const f = schema.byJsonName.get(key);
    const p = join(path, key);
    if (!f) throw new DecodeError(p, `strict decoding error: unknown field "${p}"`);
    if (value === null || value === undefined) continue;
    out[f.tsName] = decodeField(f, value, p);
  }
  return out;
}

/** Decodes JSON into a ts-proto message of the given type, strictly. Throws DecodeError. */
export function decodeMessage<T = unknown>(typeName: string, json: unknown, path = ""): T {
  const partial = decodeFields(typeName, json, path);
  const type = messageTypeRegistry.get(typeName);
  if (!type) throw new Error(`codec: ${typeName} is not in the type registry`);
  return type.fromPartial(partial as never) as T;
}

function manifestName(json: Record<string, unknown>): string {
  const m = json.metadata;
  if (isPlainObject(m)) return String(m.name ?? m.generateName ?? "");
  return "";
}

/**
 * A Kubernetes manifest (parsed YAML/JSON) → its kind and typed object. Unknown kinds, unknown
 * fields and wrong types are ApiError BadRequest with the field path; nothing is guessed.
 */
export function decodeObject(json: unknown): { kind: KindInfo; object: KubeObject } {
  if (!isPlainObject(json)) throw errors.badRequest("a manifest must be an object with apiVersion and kind");
  const apiVersion = json.apiVersion;
  const kindName = json.kind;
  if (typeof kindName !== "string" || !kindName) {
    throw errors.badRequest(`Object 'Kind' is missing in '${JSON.stringify(json).slice(0, 200)}'`);
  }
  if (typeof apiVersion !== "string" || !apiVersion) {
    throw errors.badRequest(`Object 'apiVersion' is missing in '${JSON.stringify(json).slice(0, 200)}'`);
  }
  const kind = kindForManifest(apiVersion, kindName);
  if (!kind) throw errors.badRequest(`no matches for kind "${kindName}" in version "${apiVersion}"`);
  try {
    const object = decodeMessage<KubeObject>(kind.messageType.$type, json);
    return { kind, object };
  } catch (err) {
    if (err instanceof DecodeError) {
      const name = manifestName(json);
      const qualified = kind.group ? `${kind.kind}.${kind.group}` : kind.kind;
      throw errors.badRequest(`${qualified} "${name}" is invalid: ${err.message}`);
    }
    throw err;
  }
}

function encodeScalar(kind: ScalarKind, format: FieldSchema["format"], v: unknown): unknown {
  if (kind === "bytes") return Buffer.from(v as Uint8Array).toString("base64");
  if (kind === "string" && format === "int-or-string" && /^\d+$/.test(v as string)) return Number(v);
  return v;
}

function isDefault(f: FieldSchema, v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (f.optional) return false;
  if (f.map) return Object.keys(v as object).length === 0;
  if (f.repeated) return (v as unknown[]).length === 0;
  if (f.message) return false;
  if (f.scalar === "bytes") return (v as Uint8Array).length === 0;
  return v === "" || v === 0 || v === false;
}

/** A ts-proto message → Kubernetes JSON with omitempty behaviour, keys in schema order. */
export function encodeMessage(typeName: string, value: unknown): Record<string, unknown> {
  const schema = messageSchema(typeName);
  const src = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of schema.fields) {
    const v = src[f.tsName];
    if (isDefault(f, v)) continue;
    if (f.map) {
      const m: Record<string, unknown> = {};
      for (const k of Object.keys(v as object)) {
        const item = (v as Record<string, unknown>)[k];
        m[k] = f.map.message
          ? encodeMessage(f.map.message, item)
          : encodeScalar(f.map.scalar!, f.format, item);
      }
      out[f.jsonName] = m;
    } else if (f.repeated) {
      out[f.jsonName] = (v as unknown[]).map((item) =>
        f.message ? encodeMessage(f.message, item) : encodeScalar(f.scalar!, f.format, item),
      );
    } else {
      out[f.jsonName] = f.message ? encodeMessage(f.message, v) : encodeScalar(f.scalar!, f.format, v);
    }
  }
  return out;
}

/** A typed object → its Kubernetes JSON form (apiVersion and kind filled from the kind table). */
export function encodeObject(obj: KubeObject): Record<string, unknown> {
  const info = kindForTypeName(obj.$type);
  if (!info) throw new Error(`encodeObject: ${obj.$type} is not a registered kind`);
  const { apiVersion: _v, kind: _k, ...rest } = encodeMessage(obj.$type, obj);
  // apiVersion and kind lead, as Kubernetes prints them.
  return { apiVersion: apiVersionOf(info), kind: info.kind, ...rest };
}
