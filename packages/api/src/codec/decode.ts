import { status as GrpcStatus } from "@grpc/grpc-js";
import { ApiError, errors, type FieldError, field } from "@tskube/machinery";
import { messageTypeRegistry } from "../gen/typeRegistry.js";
import { type KindInfo, type KubeObject, kindForManifest } from "../kinds.js";
import { compactJson, isPlainObject, setOwn } from "./json-value.js";
import { type FieldSchema, messageSchema, type ScalarKind } from "./schema.js";

/**
 * A manifest that does not fit the schema. It is a BadRequest, as Kubernetes answers a body it
 * cannot decode: either the first wrong-typed value (decoding stops there, as Go's JSON decoder
 * does) or every unknown and duplicate field (collected, as strict field validation lists them).
 */
export class DecodeError extends ApiError {
  constructor(
    message: string,
    /** The wrong-typed value, when that is what failed. */
    readonly fieldError?: FieldError,
    /** `unknown field "spec.replica"` and `duplicate field "…"` entries, when those failed. */
    readonly strictErrors: readonly string[] = [],
  ) {
    super(
      GrpcStatus.INVALID_ARGUMENT,
      "BadRequest",
      message,
      fieldError
        ? [{ reason: `Field${fieldError.type}`, message: fieldError.toString(), field: fieldError.field }]
        : [],
    );
    this.name = "DecodeError";
  }
}

function typeError(path: string, value: unknown, detail: string): DecodeError {
  const err = field.invalid(path || "<root>", value, detail);
  return new DecodeError(err.toString(), err);
}

const join = (path: string, name: string) => (path ? `${path}.${name}` : name);

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
const UINT32 = { min: 0, max: 2 ** 32 - 1 };
// 64-bit fields are JavaScript numbers in the generated types, so only exactly representable values fit.
const INT64 = { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER };
const UINT64 = { min: 0, max: Number.MAX_SAFE_INTEGER };

function integerIn(range: { min: number; max: number }, v: unknown, path: string, expected: string): number {
  if (typeof v !== "number" || !Number.isInteger(v)) throw typeError(path, v, `expected ${expected}`);
  if (v < range.min || v > range.max) {
    throw typeError(path, v, `must be between ${range.min} and ${range.max}, inclusive`);
  }
  return v;
}

// Go's base64.StdEncoding, which Kubernetes uses for []byte: padded, line breaks ignored.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

interface ScalarField {
  format?: FieldSchema["format"];
  bits64?: boolean;
}

function decodeScalar(kind: ScalarKind, f: ScalarField, v: unknown, path: string): unknown {
  switch (kind) {
    case "string":
      if (f.format === "int-or-string") {
        if (typeof v === "string") return v;
        return String(integerIn(INT32, v, path, "integer or string"));
      }
      if (f.format === "quantity") {
        if (typeof v === "number" && Number.isFinite(v)) return String(v);
        // The quantity's syntax is checked by validation, which reports every bad one at once.
        if (typeof v === "string") return v;
        throw typeError(path, v, "expected quantity (number or string)");
      }
      if (typeof v === "string") return v;
      throw typeError(path, v, "expected string");
    case "bool":
      if (typeof v === "boolean") return v;
      throw typeError(path, v, "expected boolean");
    case "int":
      return integerIn(f.bits64 ? INT64 : INT32, v, path, "integer");
    case "uint":
      return integerIn(f.bits64 ? UINT64 : UINT32, v, path, "integer");
    case "float":
      if (typeof v === "number" && Number.isFinite(v)) return v;
      throw typeError(path, v, "expected number");
    case "bytes": {
      const text = typeof v === "string" ? v.replace(/[\r\n]/g, "") : undefined;
      if (text === undefined || !BASE64.test(text)) throw typeError(path, v, "expected base64-encoded data");
      return new Uint8Array(Buffer.from(text, "base64"));
    }
  }
}

/** What JSON null decodes to inside lists and maps: the zero value, as in Go. */
function zeroScalar(kind: ScalarKind): unknown {
  switch (kind) {
    case "string":
      return "";
    case "bool":
      return false;
    case "bytes":
      return new Uint8Array();
    default:
      return 0;
  }
}

class Decoder {
  readonly strictErrors: string[] = [];

  message(typeName: string, json: unknown, path: string): Record<string, unknown> {
    if (!isPlainObject(json)) throw typeError(path, json, "expected object");
    const schema = messageSchema(typeName);
    const out: Record<string, unknown> = {};
    const seen = new Set<FieldSchema>();
    for (const [key, value] of Object.entries(json)) {
      const f = schema.byJsonName.get(key);
      const p = join(path, key);
      if (!f) {
        this.strictErrors.push(`unknown field "${p}"`);
        continue;
      }
      if (seen.has(f)) {
        // The proto name and the JSON name of one field, both given.
        this.strictErrors.push(`duplicate field "${join(path, f.jsonName)}"`);
        continue;
      }
      seen.add(f);
      // null leaves a field unset, as it does for Kubernetes' pointers, lists and maps.
      if (value === null || value === undefined) continue;
      setOwn(out, f.tsName, this.field(f, value, p));
    }
    return out;
  }

  private field(f: FieldSchema, v: unknown, path: string): unknown {
    if (f.map) {
      const valueType = f.map;
      if (!isPlainObject(v)) throw typeError(path, v, "expected object");
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) {
        const p = `${path}[${k}]`;
        // The generated types keep maps in plain objects, where this key cannot be stored.
        if (k === "__proto__") throw typeError(p, k, "this key is not supported");
        out[k] = valueType.message
          ? this.message(valueType.message, item ?? {}, p)
          : item === null
            ? zeroScalar(valueType.scalar!)
            : decodeScalar(valueType.scalar!, f, item, p);
      }
      return out;
    }
    if (f.repeated) {
      if (!Array.isArray(v)) throw typeError(path, v, "expected list");
      return v.map((item, i) => this.single(f, item, `${path}[${i}]`));
    }
    return this.single(f, v, path);
  }

  private single(f: FieldSchema, v: unknown, path: string): unknown {
    if (f.message) return this.message(f.message, v ?? {}, path);
    if (v === null) return zeroScalar(f.scalar!);
    return decodeScalar(f.scalar!, f, v, path);
  }
}

/**
 * Decodes the JSON form of a message ("tskube.v1.PodSpec") into its generated type, strictly: JSON
 * names or proto names, exact JSON types, ranges, IntOrString, quantities and base64 bytes. Field
 * paths in errors start at `path`. Throws DecodeError (an ApiError BadRequest).
 */
export function decodeMessage<T = unknown>(typeName: string, json: unknown, path = ""): T {
  const decoder = new Decoder();
  const partial = decoder.message(typeName, json, path);
  if (decoder.strictErrors.length > 0) {
    const message = `strict decoding error: ${decoder.strictErrors.join(", ")}`;
    throw new DecodeError(message, undefined, decoder.strictErrors);
  }
  const type = messageTypeRegistry.get(typeName);
  if (!type) throw new Error(`codec: ${typeName} is not in the type registry`);
  return type.fromPartial(partial as never) as T;
}

/**
 * A Kubernetes manifest (parsed YAML/JSON) → its kind and typed object. Everything that does not
 * fit is an ApiError BadRequest worded as Kubernetes words it; nothing is guessed or dropped.
 */
export function decodeObject(json: unknown): { kind: KindInfo; object: KubeObject } {
  if (!isPlainObject(json)) {
    const what = json === null ? "null" : Array.isArray(json) ? "a list" : `a ${typeof json}`;
    throw errors.badRequest(`couldn't get version/kind; json parse error: expected an object, got ${what}`);
  }
  const { apiVersion, kind: kindName } = json;
  for (const [key, value] of [
    ["kind", kindName],
    ["apiVersion", apiVersion],
  ] as const) {
    if (value !== undefined && value !== null && typeof value !== "string") {
      throw errors.badRequest(
        `couldn't get version/kind; json parse error: ${field.invalid(key, value, "expected string")}`,
      );
    }
  }
  if (!kindName) throw errors.badRequest(`Object 'Kind' is missing in '${compactJson(json)}'`);
  if (!apiVersion) throw errors.badRequest(`Object 'apiVersion' is missing in '${compactJson(json)}'`);
  const kind = kindForManifest(apiVersion as string, kindName as string);
  if (!kind) throw errors.badRequest(`no matches for kind "${kindName}" in version "${apiVersion}"`);
  try {
    return { kind, object: decodeMessage<KubeObject>(kind.messageType.$type, json) };
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    throw new DecodeError(
      `${kind.kind} in version "${kind.version}" cannot be handled as a ${kind.kind}: ${err.message}`,
      err.fieldError,
      err.strictErrors,
    );
  }
}
