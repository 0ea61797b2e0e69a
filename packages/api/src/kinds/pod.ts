import { Pod } from "../gen/tskube/v1/core.js";
import { podStrategy } from "../strategies/pod.js";
import { defineKind } from "./define-kind.js";
import { age, humanDuration } from "./printing/age.js";
import { containers } from "./printing/containers.js";
import { orNone, sectionsDescriber, type Writer } from "./printing/describe-writer.js";
import { none } from "./printing/format.js";
import { podReady, podRestarts, podStatus } from "./printing/pod-status.js";
import { formatTable } from "./printing/table.js";

function describePod(w: Writer, pod: Pod): void {
  w.line(0, "Priority", pod.spec?.priority ?? 0);
  w.line(0, "Node", pod.spec?.nodeName ? `${pod.spec.nodeName}/${pod.status?.hostIp ?? ""}` : "<none>");
  w.line(0, "Start Time", pod.status?.startTime ? new Date(pod.status.startTime).toUTCString() : "<unset>");
  w.line(0, "Status", podStatus(pod));
  w.line(0, "IP", orNone(pod.status?.podIp));
  containers(w, "Init Containers", pod.spec?.initContainers ?? [], 0);
  containers(w, "Containers", pod.spec?.containers ?? [], 0);
  const conds = pod.status?.conditions ?? [];
  if (conds.length) {
    w.line(0, "Conditions:");
    w.raw(
      formatTable(
        ["  Type", "Status"],
        conds.map((c) => [`  ${c.type}`, c.status]),
      ).trimEnd(),
    );
  }
  w.line(0, "Volumes", pod.spec?.volumes.length ? "" : "<none>");
  for (const v of pod.spec?.volumes ?? []) {
    w.line(1, `${v.name}:`);
    const type = v.emptyDir
      ? "EmptyDir (a temporary directory that shares a pod's lifetime)"
      : v.hostPath
        ? `HostPath (bare host directory volume)`
        : v.configMap
          ? "ConfigMap (a volume populated by a ConfigMap)"
          : v.secret
            ? "Secret (a volume populated by a Secret)"
            : "Other";
    w.line(2, "Type", type);
  }
  w.line(0, "QoS Class", orNone(pod.status?.qosClass));
  w.map(0, "Node-Selectors", pod.spec?.nodeSelector);
  const tol = (pod.spec?.tolerations ?? []).map(
    (t) =>
      `${t.key}${t.operator === "Exists" ? "" : `=${t.value}`}${t.effect ? `:${t.effect}` : ""}${t.tolerationSeconds !== undefined ? ` for ${t.tolerationSeconds}s` : ""}`,
  );
  w.line(0, "Tolerations", tol.length ? tol.join("\n                   ") : "<none>");
}

export const podKind = defineKind({
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
  strategy: podStrategy,
  printer: {
    columns: {
      headers: ["READY", "STATUS", "RESTARTS", "AGE"],
      wide: ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
      row: (p, now) => [
        podReady(p),
        podStatus(p),
        podRestarts(p, now, humanDuration),
        age(p.metadata?.creationTimestamp, now),
      ],
      wideRow: (p) => [
        none(p.status?.podIp),
        none(p.spec?.nodeName),
        none(p.status?.nominatedNodeName),
        p.spec?.readinessGates.length
          ? `${p.spec.readinessGates.filter((g) => p.status?.conditions.some((c) => c.type === g.conditionType && c.status === "True")).length}/${p.spec.readinessGates.length}`
          : "<none>",
      ],
    },
    describe: sectionsDescriber<Pod>(true, describePod),
  },
});
