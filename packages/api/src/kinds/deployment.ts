import { Deployment } from "../gen/tskube/v1/apps.js";
import { deploymentStrategy } from "../strategies/apps.js";
import { defineKind } from "./define-kind.js";
import { age } from "./printing/age.js";
import { containers } from "./printing/containers.js";
import { sectionsDescriber, type Writer } from "./printing/describe-writer.js";
import { containersAndImages, selectorString } from "./printing/format.js";
import { formatTable } from "./printing/table.js";

function strategySummary(d: Deployment): string {
  const ru = d.spec?.strategy?.rollingUpdate;
  return ru ? `${ru.maxUnavailable} max unavailable, ${ru.maxSurge} max surge` : "";
}

function describeDeployment(w: Writer, d: Deployment): void {
  const sel = Object.entries(d.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  w.line(0, "Selector", sel.join(",") || "<none>");
  const s = d.status;
  w.line(
    0,
    "Replicas",
    `${d.spec?.replicas ?? 0} desired | ${s?.updatedReplicas ?? 0} updated | ${s?.replicas ?? 0} total | ${s?.availableReplicas ?? 0} available | ${s?.unavailableReplicas ?? 0} unavailable`,
  );
  w.line(0, "StrategyType", d.spec?.strategy?.type ?? "");
  w.line(0, "MinReadySeconds", d.spec?.minReadySeconds ?? 0);
  if (d.spec?.strategy?.type === "RollingUpdate") w.line(0, "RollingUpdateStrategy", strategySummary(d));
  w.line(0, "Pod Template:");
  w.map(1, "Labels", d.spec?.template?.metadata?.labels);
  containers(w, "Containers", d.spec?.template?.spec?.containers ?? [], 1);
  const conds = s?.conditions ?? [];
  if (conds.length) {
    w.line(0, "Conditions:");
    w.raw(
      formatTable(
        ["  Type", "Status", "Reason"],
        conds.map((c) => [`  ${c.type}`, c.status, c.reason]),
      ).trimEnd(),
    );
  }
}

export const deploymentKind = defineKind({
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
  strategy: deploymentStrategy,
  printer: {
    columns: {
      headers: ["READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
      wide: ["CONTAINERS", "IMAGES", "SELECTOR"],
      row: (d, now) => [
        `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}`,
        String(d.status?.updatedReplicas ?? 0),
        String(d.status?.availableReplicas ?? 0),
        age(d.metadata?.creationTimestamp, now),
      ],
      wideRow: (d) => [...containersAndImages(d.spec?.template?.spec), selectorString(d.spec?.selector)],
    },
    describe: sectionsDescriber<Deployment>(true, describeDeployment),
  },
});
