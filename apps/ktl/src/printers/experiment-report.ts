import { type Experiment, type ExperimentSample, encodeObject, printing, toJson } from "@tskube/api";

const { experimentPhase, experimentTarget, offset, percent, recoveryAgainstTarget, seconds } = printing;

/** `ktl chaos report -o json`: the Experiment's status as the API's JSON encodes it. */
export function experimentReportJson(e: Experiment): string {
  const encoded = encodeObject(e) as { status?: unknown };
  return toJson(encoded.status ?? {});
}

const esc = (s: string | number) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );

/** A vertical marker on the chart: a timeline event or a RandomKill kill at an offset. */
export interface ChartMarker {
  offsetSeconds: number;
  label: string;
  kill: boolean;
}

/**
 * Markers from the timeline, plus RandomKill's kills placed by their time against the timeline's
 * clock (each entry pairs a time with its offset, so any entry gives the kill's zero).
 */
export function chartMarkers(e: Experiment): ChartMarker[] {
  const timeline = e.status?.timeline ?? [];
  const markers: ChartMarker[] = timeline.map((t) => ({
    offsetSeconds: t.offsetSeconds,
    label: t.detail ? `${t.event}: ${t.detail}` : t.event,
    kill: t.event === "Kill",
  }));
  const anchor = timeline.find((t) => !Number.isNaN(Date.parse(t.time)));
  const zero = anchor ? Date.parse(anchor.time) - anchor.offsetSeconds * 1000 : undefined;
  const killTimes = new Set(markers.filter((m) => m.kill).map((m) => m.offsetSeconds.toFixed(3)));
  for (const k of e.status?.kills ?? []) {
    const at = Date.parse(k.time);
    if (zero === undefined || Number.isNaN(at)) continue;
    const off = (at - zero) / 1000;
    // A kill the timeline already shows is drawn once.
    if (killTimes.has(off.toFixed(3))) continue;
    markers.push({ offsetSeconds: off, label: `Kill: ${k.action} ${k.target}`, kill: true });
  }
  return markers.sort((a, b) => a.offsetSeconds - b.offsetSeconds);
}

/** Request success in one sample as a percentage; undefined when no request finished in it. */
const successPercent = (s: ExperimentSample): number | undefined => {
  const n = s.requestsOk + s.requestsFailed;
  return n ? (100 * s.requestsOk) / n : undefined;
};

const W = 900;
const H = 320;
const PAD = { left: 50, right: 56, top: 36, bottom: 40 };

/**
 * The chart: ready replicas (left axis) and request success in % (right axis) per sample over
 * seconds from the kill, with the kill and the timeline's events as vertical markers.
 */
export function experimentChartSvg(e: Experiment): string {
  const samples = [...(e.status?.samples ?? [])].sort((a, b) => a.offsetSeconds - b.offsetSeconds);
  const markers = chartMarkers(e);
  const xs = [...samples.map((s) => s.offsetSeconds), ...markers.map((m) => m.offsetSeconds)];
  const x0 = xs.length ? Math.min(0, ...xs) : 0;
  const x1 = xs.length ? Math.max(x0 + 1, ...xs) : 1;
  // One replica of headroom keeps the full-strength line below the 100 % success line.
  const maxReady = Math.max(1, ...samples.map((s) => s.readyReplicas)) + 1;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (v: number) => PAD.left + ((v - x0) / (x1 - x0)) * plotW;
  const yReady = (v: number) => PAD.top + plotH - (v / maxReady) * plotH;
  const yPct = (v: number) => PAD.top + plotH - (v / 100) * plotH;
  const pt = (a: number, b: number) => `${a.toFixed(1)},${b.toFixed(1)}`;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" id="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="ready replicas and request success over time">`,
  );
  parts.push(
    `<rect x="${PAD.left}" y="${PAD.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#bbb"/>`,
  );
  // Axes: seconds along the bottom, replicas on the left, success % on the right.
  const ticks = 6;
  for (let i = 0; i <= ticks; i++) {
    const v = x0 + ((x1 - x0) * i) / ticks;
    parts.push(
      `<text class="tick" x="${x(v).toFixed(1)}" y="${H - PAD.bottom + 16}" text-anchor="middle">${esc(v.toFixed(0))}s</text>`,
    );
  }
  for (let r = 0; r <= maxReady; r += Math.max(1, Math.ceil(maxReady / 5))) {
    parts.push(
      `<text class="tick" x="${PAD.left - 6}" y="${(yReady(r) + 4).toFixed(1)}" text-anchor="end">${r}</text>`,
    );
  }
  for (const p of [0, 50, 100]) {
    parts.push(`<text class="tick" x="${W - PAD.right + 6}" y="${(yPct(p) + 4).toFixed(1)}">${p}%</text>`);
  }
  parts.push(
    `<text class="axis" x="${W / 2}" y="${H - 6}" text-anchor="middle">seconds from the kill</text>`,
  );

  for (const m of markers) {
    const mx = x(m.offsetSeconds).toFixed(1);
    parts.push(
      `<line class="marker${m.kill ? " kill" : ""}" data-offset="${m.offsetSeconds}" x1="${mx}" x2="${mx}" y1="${PAD.top}" y2="${PAD.top + plotH}" stroke="${m.kill ? "#d62728" : "#888"}" stroke-dasharray="${m.kill ? "none" : "4 3"}"><title>${esc(`${offset(m.offsetSeconds)} ${m.label}`)}</title></line>`,
    );
  }

  if (samples.length) {
    const ready = samples.map((s) => pt(x(s.offsetSeconds), yReady(s.readyReplicas))).join(" ");
    parts.push(
      `<polyline id="series-ready-replicas" class="series" data-series="readyReplicas" fill="none" stroke="#1f77b4" stroke-width="2" points="${ready}"/>`,
    );
    const success = samples
      .map((s) => [s.offsetSeconds, successPercent(s)] as const)
      .filter((p): p is readonly [number, number] => p[1] !== undefined)
      .map(([o, p]) => pt(x(o), yPct(p)))
      .join(" ");
    parts.push(
      `<polyline id="series-request-success" class="series" data-series="requestSuccess" fill="none" stroke="#2ca02c" stroke-width="2" points="${success}"/>`,
    );
  } else {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no samples recorded</text>`);
  }
  // The legend sits above the plot, clear of the lines.
  const ly = PAD.top - 14;
  parts.push(
    `<g class="legend"><rect x="${PAD.left}" y="${ly - 4}" width="12" height="3" fill="#1f77b4"/><text x="${PAD.left + 16}" y="${ly}">ready replicas</text>` +
      `<rect x="${PAD.left + 120}" y="${ly - 4}" width="12" height="3" fill="#2ca02c"/><text x="${PAD.left + 136}" y="${ly}">request success %</text>` +
      `<rect x="${PAD.left + 270}" y="${ly - 9}" width="2" height="10" fill="#d62728"/><text x="${PAD.left + 278}" y="${ly}">kill</text>` +
      `<rect x="${PAD.left + 310}" y="${ly - 9}" width="2" height="10" fill="#888"/><text x="${PAD.left + 318}" y="${ly}">timeline event</text></g>`,
  );
  parts.push("</svg>");
  return parts.join("\n");
}

function table(headers: string[], rows: (string | number)[][], id: string): string {
  const head = headers.map((h) => `<th>${esc(h)}</th>`).join("");
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("\n");
  return `<table id="${id}"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/**
 * `ktl chaos report -o html`: one self-contained page (inline CSS and SVG, no scripts or fetches)
 * with the chart, the figures against their targets, requests, writes, invariants and timeline.
 */
export function experimentReportHtml(e: Experiment): string {
  const s = e.status;
  const name = `${e.metadata?.namespace ?? ""}/${e.metadata?.name ?? ""}`;
  const figures: (string | number)[][] = [
    ["Detection", seconds(s?.figures?.detectionSeconds)],
    ["Recovery", recoveryAgainstTarget(s)],
  ];
  const r = s?.requests;
  if (r) {
    figures.push(
      ["Requests", `${r.succeeded} of ${r.total} succeeded, ${r.failed} failed`],
      ["Success rate", percent(r.successRatio)],
      ["Latency", `p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms`],
    );
  }
  const w = s?.writes;
  if (w) figures.push(["Writes", `${w.acknowledged} acknowledged, ${w.lost} lost, ${w.rejected} rejected`]);
  const invariants = (s?.invariants ?? []).map((i) => [
    i.ok ? "✓" : "✗",
    i.name,
    i.ok ? "OK" : "FAILED",
    i.message,
  ]);
  const timeline = (s?.timeline ?? []).map((t) => [offset(t.offsetSeconds), t.time, t.event, t.detail]);
  const kills = (s?.kills ?? []).map((k) => [k.time, k.action, k.target, seconds(k.recoverySeconds)]);
  const verdict = s?.verdict || "none";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Experiment ${esc(name)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
.verdict-Passed { color: #2ca02c; } .verdict-Failed { color: #d62728; }
svg text { font-size: 11px; fill: #444; }
</style>
</head>
<body>
<h1>Experiment ${esc(name)}</h1>
<p>Action <b>${esc(e.spec?.action ?? "")}</b> on <b>${esc(experimentTarget(e))}</b> —
phase <b>${esc(experimentPhase(e))}</b>, verdict <b id="verdict" class="verdict-${esc(verdict)}">${esc(verdict)}</b>${s?.message ? ` — ${esc(s.message)}` : ""}</p>
<p>Started ${esc(s?.startTime || "-")}, completed ${esc(s?.completionTime || "-")}.</p>
<h2>Ready replicas and request success</h2>
${experimentChartSvg(e)}
<h2>Figures</h2>
${table(["Figure", "Value"], figures, "figures")}
<h2>Invariants</h2>
${table(["", "Invariant", "Status", "Message"], invariants, "invariants")}
<h2>Timeline</h2>
${table(["Offset", "Time", "Event", "Detail"], timeline, "timeline")}
${kills.length ? `<h2>Kills</h2>\n${table(["Time", "Action", "Target", "Recovery"], kills, "kills")}` : ""}
</body>
</html>
`;
}
