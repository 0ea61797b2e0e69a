import { apiVersionOf, type KubeObject, kindForTypeName } from "../kinds.js";
import { type FieldSchema, messageSchema, type ScalarKind } from "./schema.js";

// IntOrString holds an int32 when it was written as a number; these are the strings it prints as one.
const INT_STRING = /^(0|-?[1-9]\d{0,9})$/;
const INT32_MAX = 2 ** 31 - 1;

function encodeScalar(kind: ScalarKind, format: FieldSchema["format"], v: unknown): unknown {
  if (kind === "bytes") {
    const bytes = v as Uint8Array;
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  }
  if (format === "int-or-string" && typeof v === "string" && INT_STRING.test(v)) {
    const n = Number(v);
    if (n >= -INT32_MAX - 1 && n <= INT32_MAX) return n;
  }
  return v;
}

/** Kubernetes' omitempty: zero scalars, empty lists and maps and absent messages are left out. */
function isOmitted(f: FieldSchema, v: unknown): boolean {
  if (v === undefined || v === null) return true;
  // proto3 `optional` is a Kubernetes pointer: present means written, even as 0, false or "".
  if (f.optional) return false;
  if (f.map) return Object.keys(v as object).length === 0;
  if (f.repeated) return (v as unknown[]).length === 0;
  if (f.message) return false;
  if (f.scalar === "bytes") return (v as Uint8Array).length === 0;
  return v === "" || v === 0 || v === false;
}

function encodeValue(f: FieldSchema, v: unknown): unknown {
  return f.message ? encodeMessage(f.message, v) : encodeScalar(f.scalar!, f.format, v);
}

/**
 * A generated message → its Kubernetes JSON form: JSON names, omitempty, IntOrString numbers,
 * base64 bytes, fields in proto order and map keys sorted (Go's encoding/json sorts them).
 */
export function encodeMessage(typeName: string, value: unknown): Record<string, unknown> {
  const schema = messageSchema(typeName);
  const src = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of schema.fields) {
    const v = src[f.tsName];
    if (isOmitted(f, v)) continue;
    if (f.map) {
      const entries = v as Record<string, unknown>;
      const m: Record<string, unknown> = {};
      for (const k of Object.keys(entries).sort()) {
        m[k] = f.map.message
          ? encodeMessage(f.map.message, entries[k])
          : encodeScalar(f.map.scalar!, f.format, entries[k]);
      }
      out[f.jsonName] = m;
    } else if (f.repeated) {
      out[f.jsonName] = (v as unknown[]).map((item) => encodeValue(f, item));
    } else {
      out[f.jsonName] = encodeValue(f, v);
    }
  }
  return out;
}

/** A typed object → its Kubernetes JSON form, apiVersion and kind first and filled from the kind table. */
export function encodeObject(obj: KubeObject): Record<string, unknown> {
  const info = kindForTypeName(obj.$type);
  if (!info) throw new Error(`encodeObject: ${obj.$type} is not a registered kind`);
  const { apiVersion: _v, kind: _k, ...rest } = encodeMessage(obj.$type, obj);
  return { apiVersion: apiVersionOf(info), kind: info.kind, ...rest };
}
