/**
 * The lists Kubernetes' strategic merge patch merges instead of replacing (their Go struct tags
 * `patchStrategy:"merge"`), by message type and JSON field name. The value is the patchMergeKey, or
 * null for lists of scalars, which merge as sets (finalizers). Every other list is replaced whole,
 * tolerations and taints included, as in Kubernetes.
 */
export const MERGE_LISTS: Readonly<Record<string, Readonly<Record<string, string | null>>>> = {
  "tskube.v1.ObjectMeta": { ownerReferences: "uid", finalizers: null },
  "tskube.v1.PodSpec": {
    volumes: "name",
    initContainers: "name",
    containers: "name",
    hostAliases: "ip",
    topologySpreadConstraints: "topologyKey",
  },
  "tskube.v1.Container": { ports: "containerPort", env: "name", volumeMounts: "mountPath" },
  "tskube.v1.PodStatus": { conditions: "type", podIPs: "ip", hostIPs: "ip" },
  "tskube.v1.NodeSpec": { podCIDRs: null },
  "tskube.v1.NodeStatus": { conditions: "type", addresses: "type" },
  "tskube.v1.ServiceSpec": { ports: "port" },
  "tskube.v1.ServiceStatus": { conditions: "type" },
  "tskube.v1.NamespaceStatus": { conditions: "type" },
  "tskube.v1.ReplicaSetStatus": { conditions: "type" },
  "tskube.v1.DeploymentStatus": { conditions: "type" },
};

/** How a list field merges: with the merge key, as a set of scalars (null), or not at all (undefined). */
export function mergeStrategyOf(messageType: string, jsonName: string): string | null | undefined {
  return MERGE_LISTS[messageType]?.[jsonName];
}
