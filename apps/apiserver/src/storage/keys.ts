import { type KindInfo, type KubeObject, ObjectMeta } from "@tskube/api";
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
