import { ReplicaSet } from "../gen/tskube/v1/apps.js";
import { replicaSetStrategy } from "../strategies/apps.js";
import { defineKind } from "./define-kind.js";
import { age } from "./printing/age.js";
import { containers } from "./printing/containers.js";
import { sectionsDescriber, type Writer } from "./printing/describe-writer.js";
import { containersAndImages, selectorString } from "./printing/format.js";

function describeReplicaSet(w: Writer, rs: ReplicaSet): void {
  const sel = Object.entries(rs.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  w.line(0, "Selector", sel.join(",") || "<none>");
  const owner = rs.metadata?.ownerReferences.find((o) => o.controller);
  w.line(0, "Controlled By", owner ? `${owner.kind}/${owner.name}` : "<none>");
  w.line(0, "Replicas", `${rs.status?.replicas ?? 0} current / ${rs.spec?.replicas ?? 0} desired`);
  w.line(0, "Pods Status", `${rs.status?.readyReplicas ?? 0} Running / 0 Waiting / 0 Succeeded / 0 Failed`);
  w.line(0, "Pod Template:");
  w.map(1, "Labels", rs.spec?.template?.metadata?.labels);
  containers(w, "Containers", rs.spec?.template?.spec?.containers ?? [], 1);
}

export const replicaSetKind = defineKind({
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
  strategy: replicaSetStrategy,
  printer: {
    columns: {
      headers: ["DESIRED", "CURRENT", "READY", "AGE"],
      wide: ["CONTAINERS", "IMAGES", "SELECTOR"],
      row: (r, now) => [
        String(r.spec?.replicas ?? 0),
        String(r.status?.replicas ?? 0),
        String(r.status?.readyReplicas ?? 0),
        age(r.metadata?.creationTimestamp, now),
      ],
      wideRow: (r) => [...containersAndImages(r.spec?.template?.spec), selectorString(r.spec?.selector)],
    },
    describe: sectionsDescriber<ReplicaSet>(true, describeReplicaSet),
  },
});
