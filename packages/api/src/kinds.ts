import { Any } from "./gen/google/protobuf/any.js";
import { Deployment, ReplicaSet } from "./gen/tskube/v1/apps.js";
import { Experiment } from "./gen/tskube/v1/chaos.js";
import { Lease } from "./gen/tskube/v1/coordination.js";
import { ConfigMap, Endpoints, Event, Namespace, Node, Pod, Secret, Service } from "./gen/tskube/v1/core.js";
import type { ObjectMeta } from "./gen/tskube/v1/meta.js";
import type { MessageType } from "./gen/typeRegistry.js";

/** Every stored kind has this shape: type tag, apiVersion, kind and metadata. */
export interface KubeObject {
  $type: string;
  apiVersion: string;
  kind: string;
  metadata?: ObjectMeta | undefined;
}

/**
 * What the API knows about one kind. Adding a kind means adding its messages to proto/, one entry
 * here, and a strategy (validation and defaulting) in ./strategies; every layer reads this table.
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

function info<T extends KubeObject>(
  k: Omit<KindInfo<T>, "messageType"> & { messageType: unknown },
): KindInfo<T> {
  return k as KindInfo<T>;
}

export const KINDS: readonly KindInfo[] = [
  info({
    kind: "Namespace",
    group: "",
    version: "v1",
    resource: "namespaces",
    singular: "namespace",
    shortNames: ["ns"],
    namespaced: false,
    hasStatus: true,
    hasSpec: true,
    messageType: Namespace,
  }),
  info({
    kind: "Pod",
    group: "",
    version: "v1",
    resource: "pods",
    singular: "pod",
    shortNames: ["po"],
    namespaced: true,
    hasStatus: true,
    hasSpec: true,
    messageType: Pod,
  }),
  info({
    kind: "Node",
    group: "",
    version: "v1",
    resource: "nodes",
    singular: "node",
    shortNames: ["no"],
    namespaced: false,
    hasStatus: true,
    hasSpec: true,
    messageType: Node,
  }),
  info({
    kind: "Service",
    group: "",
    version: "v1",
    resource: "services",
    singular: "service",
    shortNames: ["svc"],
    namespaced: true,
    hasStatus: true,
    hasSpec: true,
    messageType: Service,
  }),
  info({
    kind: "Endpoints",
    group: "",
    version: "v1",
    resource: "endpoints",
    singular: "endpoints",
    shortNames: ["ep"],
    namespaced: true,
    hasStatus: false,
    hasSpec: false,
    messageType: Endpoints,
  }),
  info({
    kind: "Event",
    group: "",
    version: "v1",
    resource: "events",
    singular: "event",
    shortNames: ["ev"],
    namespaced: true,
    hasStatus: false,
    hasSpec: false,
    messageType: Event,
  }),
  info({
    kind: "ConfigMap",
    group: "",
    version: "v1",
    resource: "configmaps",
    singular: "configmap",
    shortNames: ["cm"],
    namespaced: true,
    hasStatus: false,
    hasSpec: false,
    messageType: ConfigMap,
  }),
  info({
    kind: "Secret",
    group: "",
    version: "v1",
    resource: "secrets",
    singular: "secret",
    shortNames: [],
    namespaced: true,
    hasStatus: false,
    hasSpec: false,
    messageType: Secret,
  }),
  info({
    kind: "ReplicaSet",
    group: "apps",
    version: "v1",
    resource: "replicasets",
    singular: "replicaset",
    shortNames: ["rs"],
    namespaced: true,
    hasStatus: true,
    hasSpec: true,
    messageType: ReplicaSet,
  }),
  info({
    kind: "Deployment",
    group: "apps",
    version: "v1",
    resource: "deployments",
    singular: "deployment",
    shortNames: ["deploy"],
    namespaced: true,
    hasStatus: true,
    hasSpec: true,
    messageType: Deployment,
  }),
  info({
    kind: "Lease",
    group: "coordination.k8s.io",
    version: "v1",
    resource: "leases",
    singular: "lease",
    shortNames: [],
    namespaced: true,
    hasStatus: false,
    hasSpec: true,
    messageType: Lease,
  }),
  info({
    kind: "Experiment",
    group: "chaos.tskube.io",
    version: "v1alpha1",
    resource: "experiments",
    singular: "experiment",
    shortNames: ["exp"],
    namespaced: true,
    hasStatus: true,
    hasSpec: true,
    messageType: Experiment,
  }),
];

const byResource = new Map<string, KindInfo>();
const byTypeName = new Map<string, KindInfo>();
const byAlias = new Map<string, KindInfo>();
for (const k of KINDS) {
  byResource.set(k.resource, k);
  byTypeName.set(k.messageType.$type, k);
  for (const alias of [k.resource, k.singular, k.kind.toLowerCase(), ...k.shortNames]) byAlias.set(alias, k);
  const qualified = k.group ? `${k.resource}.${k.group}` : undefined;
  if (qualified) byAlias.set(qualified, k);
}

export const apiVersionOf = (k: KindInfo): string => (k.group ? `${k.group}/${k.version}` : k.version);

/** The kind served under a plural resource name ("pods"), or undefined. */
export const kindForResource = (resource: string): KindInfo | undefined => byResource.get(resource);

/** The kind a user typed on the command line: "po", "pod", "pods", "Pod", "deployments.apps". */
export const kindForAlias = (name: string): KindInfo | undefined => byAlias.get(name.toLowerCase());

/** The kind for a manifest's apiVersion + kind. */
export function kindForManifest(apiVersion: string, kind: string): KindInfo | undefined {
  const k = KINDS.find((x) => x.kind === kind);
  return k && apiVersionOf(k) === apiVersion ? k : undefined;
}

export const kindForTypeName = (typeName: string): KindInfo | undefined => byTypeName.get(typeName);

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
