import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { Any, type KindInfo, type KubeObject, ObjectMeta } from "@tskube/api";
import type { RawValue } from "./etcd-store.js";

/** Root of every key tskube writes; Kubernetes' layout below it. */
export const REGISTRY_PREFIX = "/registry/";

/** `/registry/<resource>/<namespace>/<name>` or `/registry/<resource>/<name>` for cluster-scoped kinds. */
export function keyFor(kind: KindInfo, namespace: string, name: string): string {
  return kind.namespaced
    ? `${REGISTRY_PREFIX}${kind.resource}/${namespace}/${name}`
    : `${REGISTRY_PREFIX}${kind.resource}/${name}`;
}

/** The prefix that holds one namespace's objects (or all of them when namespace is empty). */
export function prefixFor(kind: KindInfo, namespace = ""): string {
  return kind.namespaced && namespace
    ? `${REGISTRY_PREFIX}${kind.resource}/${namespace}/`
    : `${REGISTRY_PREFIX}${kind.resource}/`;
}

/**
 * Objects are stored as their protobuf encoding without metadata.resourceVersion: the version is
 * the key's etcd mod_revision, filled in on every read.
 */
export function encodeValue(kind: KindInfo, obj: KubeObject): Buffer {
  const rv = obj.metadata?.resourceVersion ?? "";
  if (obj.metadata) obj.metadata.resourceVersion = "";
  try {
    return Buffer.from(kind.messageType.encode(obj as never).finish());
  } finally {
    if (obj.metadata) obj.metadata.resourceVersion = rv;
  }
}

export function decodeValue<T extends KubeObject>(kind: KindInfo, raw: RawValue): T {
  const obj = kind.messageType.decode(raw.value) as unknown as T;
  obj.metadata ??= ObjectMeta.create();
  if (obj.metadata) obj.metadata.resourceVersion = String(raw.modRevision);
  return obj;
}

/** ObjectMeta.resource_version's tag (field 5, length-delimited). */
const RESOURCE_VERSION_TAG = (5 << 3) | WireType.LengthDelimited;

const metadataFields = new WeakMap<KindInfo, number>();

/** The field number of a kind's metadata, read off an encoded probe that sets only metadata. */
function metadataFieldOf(kind: KindInfo): number {
  let field = metadataFields.get(kind);
  if (field === undefined) {
    const probe = kind.messageType.encode(kind.messageType.fromPartial({ metadata: { name: "x" } }) as never);
    const r = new BinaryReader(probe.finish());
    const [number, wire] = r.tag();
    if (wire !== WireType.LengthDelimited) throw new Error(`${kind.kind}: metadata is not a message field`);
    field = number;
    metadataFields.set(kind, field);
  }
  return field;
}

function varintBytes(n: number): number[] {
  const out: number[] = [];
  while (n >= 128) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/**
 * The object of a stored value packed for the wire with its resourceVersion, without decoding and
 * encoding it again: the value is the object's encoding minus metadata.resourceVersion, so the
 * packed form is the same bytes with that one field appended inside metadata (a field may come in
 * any order, and the value never holds one of its own). Creates answer and watch events go out
 * this way, so each written object is encoded once.
 */
export function packStored(kind: KindInfo, value: Uint8Array, revision: number): Any {
  const field = metadataFieldOf(kind);
  const rv = Buffer.from(String(revision));
  const rvField = Buffer.from([RESOURCE_VERSION_TAG, ...varintBytes(rv.length)]);
  const r = new BinaryReader(value);
  while (r.pos < r.len) {
    const tagStart = r.pos;
    const [number, wire] = r.tag();
    if (number !== field || wire !== WireType.LengthDelimited) {
      r.skip(wire);
      continue;
    }
    const length = r.uint32();
    const start = r.pos;
    const end = start + length;
    const head = Buffer.from([
      ...varintBytes((field << 3) | WireType.LengthDelimited),
      ...varintBytes(length + rvField.length + rv.length),
    ]);
    return Any.fromPartial({
      typeUrl: `type.googleapis.com/${kind.messageType.$type}`,
      value: Buffer.concat([
        value.subarray(0, tagStart),
        head,
        value.subarray(start, end),
        rvField,
        rv,
        value.subarray(end),
      ]),
    });
  }
  // No metadata at all (never written so): it is the resourceVersion alone.
  const meta = Buffer.concat([rvField, rv]);
  return Any.fromPartial({
    typeUrl: `type.googleapis.com/${kind.messageType.$type}`,
    value: Buffer.concat([
      value,
      Buffer.from([...varintBytes((field << 3) | WireType.LengthDelimited), ...varintBytes(meta.length)]),
      meta,
    ]),
  });
}
