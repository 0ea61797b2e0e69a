import { Any } from "./gen/google/protobuf/any.js";
import type { ObjectMeta } from "./gen/tskube/v1/meta.js";
import type { MessageType } from "./gen/typeRegistry.js";
import type { KindDefinition } from "./kinds/define-kind.js";
import { KINDS } from "./kinds/index.js";

export { KINDS };

/** Every stored kind has this shape: type tag, apiVersion, kind and metadata. */
export interface KubeObject {
  $type: string;
  apiVersion: string;
  kind: string;
  metadata?: ObjectMeta | undefined;
}

/**
 * A kind's identity: what every layer (client, informers, GC, the registry's keys) needs to name
 * it. A kind's full declaration (KindDefinition, in ./kinds) adds its strategy and printer.
 */
export interface KindInfo<T extends KubeObject = KubeObject> {
  kind: string;
  /** "" for the core group. */
  group: string;
  version: string;
  /** Plural lower-case name used in keys and requests: "deployments". */
  resource: string;
  singular: string;
  shortNames: readonly string[];
  namespaced: boolean;
  /** Has a status written through UpdateStatus (spec writes then leave status alone). */
  hasStatus: boolean;
  /** Has a spec whose changes bump metadata.generation. */
  hasSpec: boolean;
  messageType: MessageType & { fromPartial(o: object): T; create(o?: object): T };
}

const byResource = new Map<string, KindDefinition>();
const byTypeName = new Map<string, KindDefinition>();
const byAlias = new Map<string, KindDefinition>();
for (const k of KINDS) {
  byResource.set(k.resource, k);
  byTypeName.set(k.messageType.$type, k);
  for (const alias of [k.resource, k.singular, k.kind.toLowerCase(), ...k.shortNames]) byAlias.set(alias, k);
  const qualified = k.group ? `${k.resource}.${k.group}` : undefined;
  if (qualified) byAlias.set(qualified, k);
}

export const apiVersionOf = (k: KindInfo): string => (k.group ? `${k.group}/${k.version}` : k.version);

/** The kind served under a plural resource name ("pods"), or undefined. */
export const kindForResource = (resource: string): KindDefinition | undefined => byResource.get(resource);

/** The kind a user typed on the command line: "po", "pod", "pods", "Pod", "deployments.apps". */
export const kindForAlias = (name: string): KindDefinition | undefined => byAlias.get(name.toLowerCase());

/** The kind for a manifest's apiVersion + kind. */
export function kindForManifest(apiVersion: string, kind: string): KindDefinition | undefined {
  const k = KINDS.find((x) => x.kind === kind);
  return k && apiVersionOf(k) === apiVersion ? k : undefined;
}

export const kindForTypeName = (typeName: string): KindDefinition | undefined => byTypeName.get(typeName);

const TYPE_URL_PREFIX = "type.googleapis.com/";

/** Wraps a typed object for the wire. */
export function pack(obj: KubeObject): Any {
  const k = byTypeName.get(obj.$type);
  if (!k) throw new Error(`pack: ${obj.$type} is not a registered kind`);
  return Any.fromPartial({
    typeUrl: TYPE_URL_PREFIX + obj.$type,
    value: k.messageType.encode(obj as never).finish(),
  });
}

/** Unwraps an object from the wire; the type URL must name a registered kind. */
export function unpack<T extends KubeObject = KubeObject>(any: Any | undefined): T {
  if (!any) throw new Error("unpack: missing object");
  const typeName = any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1);
  const k = byTypeName.get(typeName);
  if (!k) throw new Error(`unpack: unknown type ${any.typeUrl}`);
  return k.messageType.decode(any.value) as unknown as T;
}

/** The type name carried by an Any ("tskube.v1.Pod"). */
export const typeNameOf = (any: Any): string => any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1);

/** "namespace/name" or "name": the key informers and workqueues use. */
export function objectKey(obj: { metadata?: ObjectMeta | undefined }): string {
  const m = obj.metadata;
  if (!m) return "";
  return m.namespace ? `${m.namespace}/${m.name}` : m.name;
}
