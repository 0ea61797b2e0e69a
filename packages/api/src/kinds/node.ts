import { Node } from "../gen/tskube/v1/core.js";
import { nodeStrategy } from "../strategies/core.js";
import { defineKind } from "./define-kind.js";
import { age } from "./printing/age.js";
import { orNone, sectionsDescriber, type Writer } from "./printing/describe-writer.js";
import { none } from "./printing/format.js";
import { formatTable } from "./printing/table.js";

function nodeStatus(n: Node): string {
  const ready = n.status?.conditions.find((c) => c.type === "Ready");
  let s = ready?.status === "True" ? "Ready" : ready?.status === "False" ? "NotReady" : "Unknown";
  if (n.spec?.unschedulable) s += ",SchedulingDisabled";
  return s;
}

function nodeRoles(n: Node): string {
  const roles = Object.keys(n.metadata?.labels ?? {})
    .filter((k) => k.startsWith("node-role.kubernetes.io/"))
    .map((k) => k.slice("node-role.kubernetes.io/".length))
    .filter(Boolean);
  return roles.length ? roles.sort().join(",") : "<none>";
}

function describeNode(w: Writer, n: Node): void {
  w.line(0, "Unschedulable", String(n.spec?.unschedulable ?? false));
  const taints = (n.spec?.taints ?? []).map((t) => `${t.key}${t.value ? `=${t.value}` : ""}:${t.effect}`);
  w.line(0, "Taints", taints.length ? taints.join("\n                   ") : "<none>");
  const conds = n.status?.conditions ?? [];
  if (conds.length) {
    w.line(0, "Conditions:");
    w.raw(
      formatTable(
        ["  Type", "Status", "Reason", "Message"],
        conds.map((c) => [`  ${c.type}`, c.status, c.reason, c.message]),
      ).trimEnd(),
    );
  }
  w.line(0, "Addresses:");
  for (const a of n.status?.addresses ?? []) w.line(1, a.type, a.address);
  w.line(0, "Capacity:");
  for (const [k, v] of Object.entries(n.status?.capacity ?? {})) w.line(1, k, v);
  w.line(0, "Allocatable:");
  for (const [k, v] of Object.entries(n.status?.allocatable ?? {})) w.line(1, k, v);
  w.line(0, "PodCIDR", orNone(n.spec?.podCidr));
}

export const nodeKind = defineKind({
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
  strategy: nodeStrategy,
  printer: {
    columns: {
      headers: ["STATUS", "ROLES", "AGE", "VERSION"],
      wide: ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"],
      row: (n, now) => [
        nodeStatus(n),
        nodeRoles(n),
        age(n.metadata?.creationTimestamp, now),
        n.status?.nodeInfo?.kubeletVersion ?? "",
      ],
      wideRow: (n) => {
        const addr = (t: string) => none(n.status?.addresses.find((a) => a.type === t)?.address);
        const info = n.status?.nodeInfo;
        return [
          addr("InternalIP"),
          addr("ExternalIP"),
          none(info?.osImage),
          none(info?.kernelVersion),
          none(info?.containerRuntimeVersion),
        ];
      },
    },
    describe: sectionsDescriber<Node>(false, describeNode),
  },
});
