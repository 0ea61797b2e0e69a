import type { KubeObject } from "@tskube/api";

/** The group of an apiVersion: "apps" for "apps/v1", "" (core) for "v1". */
export function groupOf(apiVersion: string): string {
  const i = apiVersion.indexOf("/");
  return i < 0 ? "" : apiVersion.slice(0, i);
}

/**
 * The key of obj's controlling owner when that owner is of the given kind (and group, when
 * given), as controller-runtime's EnqueueRequestForOwner with OnlyControllerOwner maps it. A
 * namespaced dependent's owner is in its namespace; a cluster-scoped owner has no namespace.
 */
export function controllerOwnerKey(
  obj: KubeObject,
  owner: { kind: string; group?: string; namespaced?: boolean },
): string | undefined {
  const ref = obj.metadata?.ownerReferences?.find(
    (r) =>
      r.controller &&
      r.kind === owner.kind &&
      (owner.group === undefined || groupOf(r.apiVersion) === owner.group),
  );
  if (!ref) return undefined;
  const namespace = owner.namespaced === false ? "" : (obj.metadata?.namespace ?? "");
  return namespace ? `${namespace}/${ref.name}` : ref.name;
}
