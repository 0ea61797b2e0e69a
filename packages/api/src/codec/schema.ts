import {
  type FieldDescriptorJson,
  fileDescriptorSet,
  type MessageDescriptorJson,
} from "../gen/descriptors.js";

/** How a string field is written in manifests (the `(tskube.v1.format)` field option). */
export type FieldFormat = "int-or-string" | "quantity" | undefined;

export type ScalarKind = "string" | "int" | "uint" | "bool" | "bytes" | "float";

export interface FieldSchema {
  /** Name in YAML/JSON (json_name): `podIP`. */
  jsonName: string;
  /** Name in proto: `pod_ip`. Accepted on input too. */
  protoName: string;
  /** Property name of the ts-proto object: `podIp`. */
  tsName: string;
  repeated: boolean;
  /** proto3 `optional`: presence is kept (0 and false are written). */
  optional: boolean;
  format: FieldFormat;
  /** A scalar, or the type name of a nested message. */
  scalar?: ScalarKind;
  /** Whether a 64-bit integer (range check). */
  bits64?: boolean;
  message?: string;
  /** For map fields: the value's shape (keys are always strings here). */
  map?: { scalar?: ScalarKind; message?: string };
}

export interface MessageSchema {
  name: string;
  fields: FieldSchema[];
  byJsonName: Map<string, FieldSchema>;
}

const SCALARS: Record<string, { kind: ScalarKind; bits64?: boolean }> = {
  TYPE_STRING: { kind: "string" },
  TYPE_BOOL: { kind: "bool" },
  TYPE_BYTES: { kind: "bytes" },
  TYPE_INT32: { kind: "int" },
  TYPE_SINT32: { kind: "int" },
  TYPE_SFIXED32: { kind: "int" },
  TYPE_INT64: { kind: "int", bits64: true },
  TYPE_SINT64: { kind: "int", bits64: true },
  TYPE_SFIXED64: { kind: "int", bits64: true },
  TYPE_UINT32: { kind: "uint" },
  TYPE_FIXED32: { kind: "uint" },
  TYPE_UINT64: { kind: "uint", bits64: true },
  TYPE_FIXED64: { kind: "uint", bits64: true },
  TYPE_DOUBLE: { kind: "float" },
  TYPE_FLOAT: { kind: "float" },
};

/** ts-proto's property naming (snakeToCamel). */
const tsNameOf = (protoName: string) => protoName.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

const raw = new Map<string, MessageDescriptorJson>();
function collect(prefix: string, messages: readonly MessageDescriptorJson[] | undefined) {
  for (const m of messages ?? []) {
    const name = `${prefix}.${m.name}`;
    raw.set(name, m);
    collect(name, m.nestedType);
  }
}
for (const file of fileDescriptorSet.file) collect(file.package, file.messageType);

const cache = new Map<string, MessageSchema>();

function fieldSchema(f: FieldDescriptorJson): FieldSchema {
  const base = {
    jsonName: f.jsonName,
    protoName: f.name,
    tsName: tsNameOf(f.name),
    repeated: f.label === "LABEL_REPEATED",
    optional: f.proto3Optional === true,
    format: f.options?.["[tskube.v1.format]"] as FieldFormat,
  };
  if (f.type === "TYPE_MESSAGE") {
    const typeName = f.typeName!.replace(/^\./, "");
    const entry = raw.get(typeName);
    if (entry?.options?.mapEntry) {
      const value = entry.field!.find((x) => x.name === "value")!;
      return {
        ...base,
        repeated: false,
        map:
          value.type === "TYPE_MESSAGE"
            ? { message: value.typeName!.replace(/^\./, "") }
            : { scalar: SCALARS[value.type]!.kind },
      };
    }
    return { ...base, message: typeName };
  }
  const s = SCALARS[f.type];
  if (!s) throw new Error(`codec: unsupported field type ${f.type} (${f.name})`);
  return { ...base, scalar: s.kind, bits64: s.bits64 ?? false };
}

/** The schema of a message type ("tskube.v1.Pod"), read from the generated descriptor set. */
export function messageSchema(typeName: string): MessageSchema {
  let s = cache.get(typeName);
  if (s) return s;
  const m = raw.get(typeName);
  if (!m) throw new Error(`codec: unknown message type ${typeName}`);
  const fields = (m.field ?? []).map(fieldSchema);
  s = { name: typeName, fields, byJsonName: new Map() };
  for (const f of fields) {
    s.byJsonName.set(f.jsonName, f);
    if (!s.byJsonName.has(f.protoName)) s.byJsonName.set(f.protoName, f);
  }
  cache.set(typeName, s);
  return s;
}
