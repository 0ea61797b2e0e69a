import { Experiment } from "@tskube/api";
import { type DefaultTreeAdapterMap, parse } from "parse5";
import { describe, expect, it } from "vitest";
import { finishedNodeKill } from "./experiment-fixture.test-helper.js";
import { chartMarkers, experimentReportHtml, experimentReportJson } from "./experiment-report.js";

type Node = DefaultTreeAdapterMap["node"];
type Element = DefaultTreeAdapterMap["element"];

const isElement = (n: Node): n is Element => "tagName" in n;

function all(root: Node, pred: (e: Element) => boolean): Element[] {
  const out: Element[] = [];
  const walk = (n: Node) => {
    if (isElement(n) && pred(n)) out.push(n);
    const kids = "childNodes" in n ? n.childNodes : [];
    for (const k of kids) walk(k as Node);
  };
  walk(root);
  return out;
}

const attr = (e: Element, name: string) => e.attrs.find((a) => a.name === name)?.value;
const text = (n: Node): string =>
  "value" in n && n.nodeName === "#text"
    ? (n as { value: string }).value
    : "childNodes" in n
      ? n.childNodes.map((c) => text(c as Node)).join("")
      : "";
const points = (e: Element) =>
  (attr(e, "points") ?? "")
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((p) => p.split(",").map(Number) as [number, number]);

describe("ktl chaos report -o html", () => {
  const exp = finishedNodeKill({ verdict: "Failed" });
  const doc = parse(experimentReportHtml(exp)) as unknown as Node;

  it("is one page with an inline SVG and nothing fetched or run", () => {
    expect(all(doc, (e) => e.tagName === "svg")).toHaveLength(1);
    expect(all(doc, (e) => ["script", "link", "img", "iframe"].includes(e.tagName))).toEqual([]);
    expect(all(doc, (e) => e.attrs.some((a) => a.name === "src" || a.name === "href"))).toEqual([]);
    expect(text(all(doc, (e) => e.tagName === "title")[0]!)).toBe("Experiment default/node-2-kill");
    expect(text(all(doc, (e) => attr(e, "id") === "verdict")[0]!)).toBe("Failed");
  });

  it("draws ready replicas and request success, one point per sample", () => {
    const ready = all(doc, (e) => e.tagName === "polyline" && attr(e, "data-series") === "readyReplicas")[0]!;
    const success = all(
      doc,
      (e) => e.tagName === "polyline" && attr(e, "data-series") === "requestSuccess",
    )[0]!;
    const r = points(ready);
    const s = points(success);
    expect(r).toHaveLength(46);
    expect(s).toHaveLength(46);
    // x grows with the offset; the dip to 2 ready replicas (lower on screen) is drawn.
    expect(r.every((p, i) => i === 0 || p[0] > r[i - 1]![0])).toBe(true);
    const ys = new Set(r.map((p) => p[1]));
    expect(ys.size).toBe(2);
    expect(r[5]![1]).toBeGreaterThan(r[0]![1]);
    // 17 of 20 requests succeeded in the second sample: lower than the 100 % around it.
    expect(s[1]![1]).toBeGreaterThan(s[0]![1]);
    expect(s[0]![1]).toBe(s[2]![1]);
  });

  it("marks the kill and every timeline event at their offsets", () => {
    const lines = all(doc, (e) => e.tagName === "line" && (attr(e, "class") ?? "").includes("marker"));
    expect(lines.map((l) => Number(attr(l, "data-offset")))).toEqual([0, 8.5, 9, 12.25, 20]);
    const kills = lines.filter((l) => attr(l, "class")!.split(" ").includes("kill"));
    expect(kills).toHaveLength(1);
    expect(text(kills[0]!)).toContain("Kill: node-2");
    const x = (l: Element) => Number(attr(l, "x1"));
    expect(x(lines[1]!)).toBeGreaterThan(x(lines[0]!));
  });

  it("tables the figures against their targets and the invariants with ✓/✗", () => {
    const figures = text(all(doc, (e) => attr(e, "id") === "figures")[0]!);
    expect(figures).toContain("12.3s (target 15s: met)");
    expect(figures).toContain("99.67%");
    const rows = all(all(doc, (e) => attr(e, "id") === "invariants")[0]!, (e) => e.tagName === "tr").slice(1);
    expect(rows.map((r) => all(r, (e) => e.tagName === "td").map((td) => text(td)))).toEqual([
      ["✓", "DesiredReplicas", "OK", "3/3 ready"],
      ["✓", "NoObjectLost", "OK", "41 objects before, all present"],
      ["✗", "NoDuplicatePods", "FAILED", "at most 4 pods (surge 1)"],
    ]);
  });

  it("escapes what the controller wrote", () => {
    const e = finishedNodeKill();
    e.status!.invariants[0]!.message = "<script>alert(1)</script>";
    const d = parse(experimentReportHtml(e)) as unknown as Node;
    expect(all(d, (x) => x.tagName === "script")).toEqual([]);
    expect(text(all(d, (x) => attr(x, "id") === "invariants")[0]!)).toContain("<script>alert(1)</script>");
  });

  it("places RandomKill's kills by time, without drawing a timeline kill twice", () => {
    const e = finishedNodeKill();
    e.status!.kills = [
      {
        $type: "tskube.v1.ExperimentKill",
        time: "2026-12-01T11:00:02.000Z",
        action: "NodeKill",
        target: "node-2",
      },
      {
        $type: "tskube.v1.ExperimentKill",
        time: "2026-12-01T11:00:32.500Z",
        action: "PodKill",
        target: "web-1",
      },
    ];
    const kills = chartMarkers(e).filter((m) => m.kill);
    expect(kills.map((k) => [k.offsetSeconds, k.label])).toEqual([
      [0, "Kill: node-2 (kubelet, kube-proxy, 2 pods)"],
      [30.5, "Kill: PodKill web-1"],
    ]);
  });

  it("says so when there are no samples", () => {
    const e = Experiment.fromPartial({
      metadata: { name: "x", namespace: "default" },
      spec: { action: "PodKill" },
    });
    const d = parse(experimentReportHtml(e)) as unknown as Node;
    expect(all(d, (x) => x.tagName === "polyline")).toEqual([]);
    expect(text(all(d, (x) => x.tagName === "svg")[0]!)).toContain("no samples recorded");
  });
});

describe("ktl chaos report -o json", () => {
  it("is the status as the API's JSON spells it", () => {
    const json = JSON.parse(experimentReportJson(finishedNodeKill()));
    expect(json.phase).toBe("Succeeded");
    expect(json.figures).toEqual({ detectionSeconds: 8.5, recoverySeconds: 12.25, target: 15 });
    expect(json.requests).toMatchObject({ total: 900, succeeded: 897, p99Ms: 41.7 });
    expect(json.samples).toHaveLength(46);
    // Zero values are left out, as the API's JSON leaves them out (the kill is at offset 0).
    expect(json.timeline[1]).toMatchObject({ offsetSeconds: 8.5, event: "NodeNotReady" });
    expect(json.timeline[0]).toEqual({
      time: "2026-12-01T11:00:02.000Z",
      event: "Kill",
      detail: "node-2 (kubelet, kube-proxy, 2 pods)",
    });
  });
});
