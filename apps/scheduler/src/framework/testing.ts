import { Node, Pod } from "@tskube/api";
import { buildSnapshot } from "./snapshot.js";
import type { Snapshot } from "./types.js";

/** Small builders for scheduler tests. */
export function node(
  name: string,
  opts: {
    cpu?: string;
    memory?: string;
    pods?: string;
    labels?: Record<string, string>;
    taints?: { key: string; value?: string; effect: string }[];
    unschedulable?: boolean;
  } = {},
): Node {
  return Node.fromPartial({
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...(opts.labels ?? {}) } },
    spec: {
      taints: (opts.taints ?? []).map((t) => ({ value: "", ...t })),
      unschedulable: opts.unschedulable ?? false,
    },
    status: { allocatable: { cpu: opts.cpu ?? "4", memory: opts.memory ?? "8Gi", pods: opts.pods ?? "110" } },
  });
}

export function pod(
  name: string,
  opts: {
    cpu?: string;
    memory?: string;
    node?: string;
    labels?: Record<string, string>;
    owner?: string;
    spec?: Record<string, unknown>;
  } = {},
): Pod {
  const requests: Record<string, string> = {};
  if (opts.cpu) requests.cpu = opts.cpu;
  if (opts.memory) requests.memory = opts.memory;
  return Pod.fromPartial({
    metadata: {
      name,
      namespace: "default",
      uid: `uid-${name}`,
      labels: opts.labels ?? {},
      ownerReferences: opts.owner
        ? [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: opts.owner, uid: opts.owner, controller: true }]
        : [],
    },
    spec: {
      containers: [{ name: "c", image: "busybox", resources: { requests } }],
      nodeName: opts.node ?? "",
      ...(opts.spec ?? {}),
    },
  });
}

export function snapshot(nodes: Node[], pods: Pod[] = []): Snapshot {
  return buildSnapshot(nodes, pods);
}
