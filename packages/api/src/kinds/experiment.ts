import { Experiment, type ExperimentStatus } from "../gen/tskube/v1/chaos.js";
import type { Event } from "../gen/tskube/v1/core.js";
import { experimentStrategy } from "../strategies/chaos.js";
import { defineKind } from "./define-kind.js";
import { age } from "./printing/age.js";
import { describeEvents } from "./printing/events.js";
import {
  experimentPhase,
  experimentTarget,
  offset,
  percent,
  recoveryAgainstTarget,
  seconds,
} from "./printing/experiment-figures.js";
import { tabwrite } from "./printing/tabwriter.js";

/** "3/4": invariants that held over those checked, or "<none>" before any was checked. */
function invariantsSummary(s: ExperimentStatus | undefined): string {
  const inv = s?.invariants ?? [];
  return inv.length ? `${inv.filter((i) => i.ok).length}/${inv.length}` : "<none>";
}

const utc = (t: string | undefined) => (t ? new Date(t).toISOString() : "<unset>");

/**
 * `ktl describe experiment`: the spec, then the run as the controller recorded it — timeline
 * (offsets from the kill), figures against their targets, requests, writes, invariants, verdict —
 * and the object's events. Key/value blocks align as kubectl's tabwriter aligns them; the timeline,
 * invariants and kills are tables in their own blocks.
 */
export function describeExperiment(e: Experiment, events: readonly Event[], now: number): string {
  const m = e.metadata;
  const spec = e.spec;
  const s = e.status;
  const labels = Object.entries(m?.labels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`);
  let t = `Name:\t${m?.name ?? ""}\n`;
  t += `Namespace:\t${m?.namespace ?? ""}\n`;
  t += labels.length
    ? labels.map((l, i) => `${i === 0 ? "Labels:" : ""}\t${l}\n`).join("")
    : "Labels:\t<none>\n";
  t += `CreationTimestamp:\t${m?.creationTimestamp ? new Date(m.creationTimestamp).toUTCString() : "<unset>"}\n`;
  t += `Action:\t${spec?.action ?? ""}\n`;
  t += `Target:\t${experimentTarget(e)}\n`;
  const w = spec?.workload;
  t += `Workload:\t${w ? `deployment/${w.deployment}, service/${w.service} in ${w.namespace}` : "<chaos controller's own>"}\n`;
  t += `Requests Per Second:\t${spec?.requestsPerSecond ?? ""}\n`;
  t += `Duration:\t${spec?.durationSeconds ?? ""}s\n`;
  if (spec?.downSeconds !== undefined) t += `Down:\t${spec.downSeconds}s\n`;
  if (spec?.action === "RandomKill") {
    t += `Interval:\t${spec.intervalSeconds ?? ""}s\n`;
    t += `Total:\t${spec.totalSeconds ?? ""}s\n`;
    t += `Actions:\t${spec.actions.join(", ")}\n`;
  }
  t += `Phase:\t${experimentPhase(e)}\n`;
  if (s?.reason) t += `Reason:\t${s.reason}\n`;
  if (s?.message) t += `Message:\t${s.message}\n`;
  t += `Start Time:\t${utc(s?.startTime)}\n`;
  t += `Completion Time:\t${utc(s?.completionTime)}\n`;
  t += `Verdict:\t${s?.verdict || "<none>"}\n`;

  const timeline = s?.timeline ?? [];
  if (timeline.length) {
    t += "Timeline:\n  Offset\tTime\tEvent\tDetail\n  ------\t----\t-----\t------\n";
    for (const ev of timeline) t += `  ${offset(ev.offsetSeconds)}\t${ev.time}\t${ev.event}\t${ev.detail}\n`;
  } else t += "Timeline:\t<none>\n";

  t += "Figures:\n";
  t += `  Detection:\t${seconds(s?.figures?.detectionSeconds)}\n`;
  t += `  Recovery:\t${recoveryAgainstTarget(s)}\n`;

  const r = s?.requests;
  if (r) {
    t += "Requests:\n";
    t += `  Total:\t${r.total}\n`;
    t += `  Succeeded:\t${r.succeeded}\n`;
    t += `  Failed:\t${r.failed}\n`;
    t += `  Success Rate:\t${percent(r.successRatio)}\n`;
    t += `  Latency:\tp50 ${r.p50Ms.toFixed(1)}ms, p99 ${r.p99Ms.toFixed(1)}ms\n`;
  } else t += "Requests:\t<none>\n";

  const wr = s?.writes;
  if (wr) {
    t += "Writes:\n";
    t += `  Acknowledged:\t${wr.acknowledged}\n`;
    t += `  Lost:\t${wr.lost}\n`;
    t += `  Rejected:\t${wr.rejected}\n`;
  }

  const inv = s?.invariants ?? [];
  if (inv.length) {
    t += "Invariants:\n  Name\tStatus\tMessage\n  ----\t------\t-------\n";
    for (const i of inv) t += `  ${i.name}\t${i.ok ? "OK" : "FAILED"}\t${i.message}\n`;
  } else t += "Invariants:\t<none>\n";

  const kills = s?.kills ?? [];
  if (kills.length) {
    t += "Kills:\n  Time\tAction\tTarget\tRecovery\n  ----\t------\t------\t--------\n";
    for (const k of kills) t += `  ${k.time}\t${k.action}\t${k.target}\t${seconds(k.recoverySeconds)}\n`;
  }

  const ev = describeEvents(events, now);
  if (!events.length) return tabwrite(`${t}Events:\t<none>\n`);
  return tabwrite(t) + ev.table;
}

export const experimentKind = defineKind({
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
  strategy: experimentStrategy,
  printer: {
    columns: {
      headers: ["ACTION", "TARGET", "PHASE", "VERDICT", "RECOVERY", "AGE"],
      wide: ["DETECTION", "SUCCESS", "INVARIANTS"],
      row: (e, now) => [
        e.spec?.action ?? "",
        experimentTarget(e),
        experimentPhase(e),
        e.status?.verdict || "<none>",
        seconds(e.status?.figures?.recoverySeconds),
        age(e.metadata?.creationTimestamp, now),
      ],
      wideRow: (e) => [
        seconds(e.status?.figures?.detectionSeconds),
        e.status?.requests && e.status.requests.total > 0
          ? percent(e.status.requests.successRatio)
          : "<none>",
        invariantsSummary(e.status),
      ],
    },
    describe: async (e, ctx) => describeExperiment(e, ctx.events, ctx.now),
  },
});
