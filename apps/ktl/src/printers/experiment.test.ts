import { Event, Experiment, experimentKind, kindForResource, printing } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { finishedNodeKill } from "./experiment-fixture.test-helper.js";
import { printTable } from "./print.js";

const { offset, recoveryAgainstTarget, seconds } = printing;
const experimentColumns = experimentKind.printer.columns;
const describeExperiment = (e: Experiment, events: Event[], now: number) =>
  experimentKind.printer.describe(e, { events, now, get: async () => undefined });

const NOW = Date.parse("2026-12-01T11:05:00Z");
const opts = {
  output: "" as const,
  showLabels: false,
  allNamespaces: false,
  showKind: false,
  noHeaders: false,
  now: NOW,
};
const kind = kindForResource("experiments")!;

describe("ktl get experiments", () => {
  it("prints NAME ACTION TARGET PHASE VERDICT RECOVERY AGE", () => {
    const pending = Experiment.fromPartial({
      metadata: { name: "soak", namespace: "default", creationTimestamp: "2026-12-01T11:04:30Z" },
      spec: { action: "RandomKill" },
    });
    const lines = printTable(kind, [finishedNodeKill(), pending], opts).trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+ACTION\s+TARGET\s+PHASE\s+VERDICT\s+RECOVERY\s+AGE$/);
    expect(lines[1]).toMatch(/^node-2-kill\s+NodeKill\s+node-2\s+Succeeded\s+Passed\s+12\.3s\s+5m$/);
    expect(lines[2]).toMatch(/^soak\s+RandomKill\s+<random>\s+Pending\s+<none>\s+<none>\s+30s$/);
  });

  it("adds detection, request success and invariants with -o wide", () => {
    const wide = printTable(kind, [finishedNodeKill({ verdict: "Failed" })], { ...opts, output: "wide" });
    expect(wide).toMatch(/\s+DETECTION\s+SUCCESS\s+INVARIANTS\n/);
    expect(wide).toMatch(/\s+8\.5s\s+99\.67%\s+2\/3\n$/);
    expect(experimentColumns.wideRow(Experiment.fromPartial({ spec: { action: "PodKill" } }), NOW)).toEqual([
      "<none>",
      "<none>",
      "<none>",
    ]);
  });
});

describe("figures", () => {
  it("formats seconds, offsets and recovery against the target", () => {
    expect(seconds(1.234)).toBe("1.23s");
    expect(seconds(12)).toBe("12s");
    expect(offset(-1)).toBe("-1.000s");
    expect(offset(8.5)).toBe("+8.500s");
    expect(recoveryAgainstTarget(finishedNodeKill().status)).toBe("12.3s (target 15s: met)");
    expect(recoveryAgainstTarget(finishedNodeKill({ recoverySeconds: 16.5 }).status)).toBe(
      "16.5s (target 15s: MISSED)",
    );
    expect(recoveryAgainstTarget(undefined)).toBe("<none>");
  });
});

describe("ktl describe experiment", () => {
  const ev = Event.fromPartial({
    type: "Normal",
    reason: "Killed",
    message: "SIGKILL to node-2's kubelet and kube-proxy",
    source: { component: "chaos-controller" },
    count: 1,
    firstTimestamp: "2026-12-01T11:00:02Z",
    lastTimestamp: "2026-12-01T11:00:02Z",
  });

  it("prints the spec, the timeline with offsets, figures, requests, invariants, verdict and events", async () => {
    const out = await describeExperiment(finishedNodeKill(), [ev], NOW);
    expect(out).toMatch(/^Name:\s+node-2-kill$/m);
    expect(out).toMatch(/^Action:\s+NodeKill$/m);
    expect(out).toMatch(/^Target:\s+node-2$/m);
    expect(out).toMatch(/^Workload:\s+<chaos controller's own>$/m);
    expect(out).toMatch(/^Down:\s+20s$/m);
    expect(out).toMatch(/^Phase:\s+Succeeded$/m);
    expect(out).toMatch(/^Verdict:\s+Passed$/m);
    expect(out).toMatch(/^ {2}Offset\s+Time\s+Event\s+Detail$/m);
    expect(out).toMatch(
      /^ {2}\+0\.000s\s+2026-12-01T11:00:02\.000Z\s+Kill\s+node-2 \(kubelet, kube-proxy, 2 pods\)$/m,
    );
    expect(out).toMatch(/^ {2}\+12\.250s\s+\S+\s+ReplacementReady\s+web-7d9-x2$/m);
    expect(out).toMatch(/^ {2}Detection:\s+8\.5s$/m);
    expect(out).toMatch(/^ {2}Recovery:\s+12\.3s \(target 15s: met\)$/m);
    expect(out).toMatch(/^ {2}Success Rate:\s+99\.67%$/m);
    expect(out).toMatch(/^ {2}Latency:\s+p50 2\.4ms, p99 41\.7ms$/m);
    expect(out).toMatch(/^ {2}DesiredReplicas\s+OK\s+3\/3 ready$/m);
    expect(out).toMatch(/^Events:\n {2}Type\s+Reason\s+Age\s+From\s+Message\n/m);
    expect(out).toMatch(
      /^ {2}Normal\s+Killed\s+4m58s\s+chaos-controller\s+SIGKILL to node-2's kubelet and kube-proxy$/m,
    );
    // Timeline rows align among themselves: the Event column starts at one place in every row.
    const rows = out.split("\n").filter((l) => /^ {2}[+-]\d/.test(l));
    expect(rows).toHaveLength(5);
    expect(
      new Set(
        rows.map((r) => r.search(/(Kill|NodeNotReady|ReplacementScheduled|ReplacementReady|Restored)\b/)),
      ).size,
    ).toBe(1);
  });

  it("marks broken invariants FAILED, shows writes and RandomKill's kills", async () => {
    const exp = finishedNodeKill({ verdict: "Failed" });
    exp.spec = {
      ...exp.spec!,
      action: "RandomKill",
      target: "",
      intervalSeconds: 10,
      totalSeconds: 60,
      actions: ["PodKill", "EtcdLeaderKill"],
    };
    exp.status!.writes = { $type: "tskube.v1.ExperimentWrites", acknowledged: 120, lost: 0, rejected: 4 };
    exp.status!.kills = [
      {
        $type: "tskube.v1.ExperimentKill",
        time: "2026-12-01T11:00:02Z",
        action: "PodKill",
        target: "web-1",
        recoverySeconds: 1.1,
      },
      {
        $type: "tskube.v1.ExperimentKill",
        time: "2026-12-01T11:00:12Z",
        action: "EtcdLeaderKill",
        target: "etcd-1",
      },
    ];
    const out = await describeExperiment(exp, [], NOW);
    expect(out).toMatch(/^Verdict:\s+Failed$/m);
    expect(out).toMatch(/^ {2}NoDuplicatePods\s+FAILED\s+at most 4 pods \(surge 1\)$/m);
    expect(out).toMatch(/^Actions:\s+PodKill, EtcdLeaderKill$/m);
    expect(out).toMatch(/^ {2}Acknowledged:\s+120$/m);
    expect(out).toMatch(/^ {2}Rejected:\s+4$/m);
    expect(out).toMatch(/^ {2}2026-12-01T11:00:12Z\s+EtcdLeaderKill\s+etcd-1\s+<none>$/m);
    expect(out).toMatch(/^Events:\s+<none>$/m);
  });

  it("describes an experiment no controller has picked up yet", async () => {
    const out = await describeExperiment(
      Experiment.fromPartial({
        metadata: { name: "x", namespace: "default" },
        spec: { action: "PodKill", durationSeconds: 20 },
      }),
      [],
      NOW,
    );
    expect(out).toMatch(/^Phase:\s+Pending$/m);
    expect(out).toMatch(/^Timeline:\s+<none>$/m);
    expect(out).toMatch(/^Requests:\s+<none>$/m);
    expect(out).toMatch(/^Invariants:\s+<none>$/m);
  });
});
