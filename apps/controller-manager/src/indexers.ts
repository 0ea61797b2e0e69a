import type { KindInfo, KubeObject, Pod } from "@tskube/api";
import type { IndexFunc } from "@tskube/controller";
import { controllerRefOf } from "./pod-util.js";

/** Objects by their own uid: the garbage collector's "is this owner cached". */
export const UID_INDEX = "uid";
/** Objects by the uid of every owner they name: the garbage collector's dependents. */
export const OWNER_UID_INDEX = "ownerUid";
/** Objects by their controller's uid: what a ReplicaSet or Deployment already controls. */
export const CONTROLLER_UID_INDEX = "controllerUid";
/** Objects without a controller, by namespace: the ones a ReplicaSet or Deployment may adopt. */
export const ORPHAN_INDEX = "orphanNamespace";
/** Pods by spec.nodeName: the node lifecycle and taint eviction controllers' pods of a node. */
export const NODE_NAME_INDEX = "spec.nodeName";

const everyKind: Record<string, IndexFunc<KubeObject>> = {
  [UID_INDEX]: (o) => (o.metadata?.uid ? [o.metadata.uid] : []),
  [OWNER_UID_INDEX]: (o) => (o.metadata?.ownerReferences ?? []).map((r) => r.uid),
};

/** Kinds a controller claims through ownerReferences (ReplicaSets claim pods, Deployments ReplicaSets). */
const claimed: Record<string, IndexFunc<KubeObject>> = {
  [CONTROLLER_UID_INDEX]: (o) => {
    const uid = controllerRefOf(o)?.uid;
    return uid ? [uid] : [];
  },
  [ORPHAN_INDEX]: (o) => (controllerRefOf(o) ? [] : [o.metadata?.namespace ?? ""]),
};

const byNode: IndexFunc<Pod> = (p) => (p.spec?.nodeName ? [p.spec.nodeName] : []);

/**
 * The controller-manager's indexes, registered once on each shared informer as it is made: the
 * controllers sharing an informer read the same index rather than each adding one (a second
 * registration of a name is refused).
 */
export function controllerManagerIndexers(kind: KindInfo): Record<string, IndexFunc<KubeObject>> {
  switch (kind.resource) {
    case "pods":
      return { ...everyKind, ...claimed, [NODE_NAME_INDEX]: byNode as IndexFunc<KubeObject> };
    case "replicasets":
      return { ...everyKind, ...claimed };
    default:
      return everyKind;
  }
}
