import { describe, expect, it } from "vitest";
import { Experiment, ExperimentStatus } from "../gen/tskube/v1/chaos.js";
import { KINDS, kindForAlias, kindForManifest } from "../kinds.js";
import { admit, update } from "./testing.js";

const manifest = (spec: string) => `
apiVersion: chaos.tskube.io/v1alpha1
kind: Experiment
metadata:
  name: kill-node-2
spec:
${spec
  .trim()
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
`;

const strategy = KINDS.find((k) => k.kind === "Experiment")!.strategy;

function statusErrors(status: object, old: object = {}): string[] {
  const base = admit<Experiment>(manifest("action: PodKill")).obj;
  const before = Experiment.fromPartial({ ...base, status: ExperimentStatus.fromPartial(old) });
  const after = Experiment.fromPartial({ ...base, status: ExperimentStatus.fromPartial(status) });
  return strategy.validateStatusUpdate(after, before).map(String);
}

describe("Experiment kind", () => {
  it("is served as chaos.tskube.io/v1alpha1 experiments, short name exp", () => {
    const k = kindForManifest("chaos.tskube.io/v1alpha1", "Experiment");
    expect(k?.resource).toBe("experiments");
    expect(kindForAlias("exp")).toBe(k);
    expect(kindForAlias("experiments.chaos.tskube.io")).toBe(k);
    expect(k?.namespaced && k.hasStatus && k.hasSpec).toBe(true);
  });
});

describe("Experiment defaults", () => {
  it("fills rate and per-action window, down time only where a component is held", () => {
    const pod = admit<Experiment>(manifest("action: PodKill"));
    expect(pod.errors).toEqual([]);
    expect(pod.obj.spec).toMatchObject({
      requestsPerSecond: 20,
      durationSeconds: 20,
      target: "",
      actions: [],
    });
    expect(pod.obj.spec?.downSeconds).toBeUndefined();
    expect(pod.obj.spec?.intervalSeconds).toBeUndefined();

    const node = admit<Experiment>(manifest("action: NodeKill\ntarget: node-2"));
    expect(node.errors).toEqual([]);
    expect(node.obj.spec).toMatchObject({ durationSeconds: 45, downSeconds: 20, target: "node-2" });
  });

  it("gives RandomKill its interval, total and the pool of every kill action", () => {
    const { obj, errors } = admit<Experiment>(manifest("action: RandomKill"));
    expect(errors).toEqual([]);
    expect(obj.spec).toMatchObject({ intervalSeconds: 10, totalSeconds: 120, downSeconds: 20 });
    expect(obj.spec?.actions).toEqual([
      "PodKill",
      "KubeletKill",
      "NodeKill",
      "SchedulerLeaderKill",
      "ControllerManagerLeaderKill",
      "ApiserverKill",
      "EtcdMemberKill",
      "EtcdLeaderKill",
    ]);
  });

  it("keeps values that were set and puts a workload in the experiment's namespace", () => {
    const { obj, errors } = admit<Experiment>(
      manifest(`
action: ApiserverKill
requestsPerSecond: 100
durationSeconds: 60
workload:
  deployment: web
  service: web`),
    );
    expect(errors).toEqual([]);
    expect(obj.spec).toMatchObject({ requestsPerSecond: 100, durationSeconds: 60 });
    expect(obj.spec?.workload).toMatchObject({ namespace: "default", deployment: "web", service: "web" });
  });

  it("is idempotent", () => {
    const { obj } = admit<Experiment>(manifest("action: RandomKill"));
    const again = structuredClone(obj);
    strategy.applyDefaults(again);
    expect(again).toEqual(obj);
  });
});

describe("Experiment validation", () => {
  it("requires an action and names the supported ones", () => {
    expect(admit(manifest("target: node-1")).errors).toEqual(["spec.action: Required value"]);
    expect(admit(manifest("action: Explode")).errors).toEqual([
      'spec.action: Unsupported value: "Explode": supported values: "PodKill", "KubeletKill", "NodeKill", ' +
        '"SchedulerLeaderKill", "ControllerManagerLeaderKill", "ApiserverKill", "EtcdMemberKill", ' +
        '"EtcdLeaderKill", "NodePause", "RandomKill"',
    ]);
  });

  it("holds the rate and windows to their ranges", () => {
    expect(admit(manifest("action: PodKill\nrequestsPerSecond: 0")).errors).toEqual([
      "spec.requestsPerSecond: Invalid value: 0: must be between 1 and 1000, inclusive",
    ]);
    expect(admit(manifest("action: PodKill\nrequestsPerSecond: 1001")).errors).toEqual([
      "spec.requestsPerSecond: Invalid value: 1001: must be between 1 and 1000, inclusive",
    ]);
    expect(admit(manifest("action: PodKill\nrequestsPerSecond: 1000")).errors).toEqual([]);
    expect(admit(manifest("action: PodKill\ndurationSeconds: 601")).errors).toEqual([
      "spec.durationSeconds: Invalid value: 601: must be between 1 and 600, inclusive",
    ]);
    expect(admit(manifest("action: KubeletKill\ndownSeconds: 0")).errors).toEqual([
      "spec.downSeconds: Invalid value: 0: must be between 1 and 300, inclusive",
    ]);
    expect(admit(manifest("action: RandomKill\nintervalSeconds: 1")).errors).toEqual([
      "spec.intervalSeconds: Invalid value: 1: must be between 2 and 300, inclusive",
    ]);
    expect(admit(manifest("action: RandomKill\ntotalSeconds: 3600")).errors).toEqual([
      "spec.totalSeconds: Invalid value: 3600: must be between 1 and 1800, inclusive",
    ]);
  });

  it("needs the window to outlast a held outage, and RandomKill's interval to fit its total", () => {
    expect(admit(manifest("action: NodePause\ndownSeconds: 30\ndurationSeconds: 30")).errors).toEqual([
      "spec.downSeconds: Invalid value: 30: must be less than spec.durationSeconds (30)",
    ]);
    expect(admit(manifest("action: RandomKill\nintervalSeconds: 60\ntotalSeconds: 30")).errors).toEqual([
      "spec.intervalSeconds: Invalid value: 60: must be less than or equal to spec.totalSeconds (30)",
    ]);
  });

  it("forbids fields that do not apply to the action", () => {
    expect(admit(manifest("action: PodKill\ndownSeconds: 5")).errors).toEqual([
      "spec.downSeconds: Forbidden: may only be set when action is one of KubeletKill, NodeKill, NodePause, RandomKill",
    ]);
    expect(
      admit(manifest("action: EtcdMemberKill\nintervalSeconds: 5\ntotalSeconds: 60\nactions: [PodKill]"))
        .errors,
    ).toEqual([
      "spec.intervalSeconds: Forbidden: may only be set when action is RandomKill",
      "spec.totalSeconds: Forbidden: may only be set when action is RandomKill",
      "spec.actions: Forbidden: may only be set when action is RandomKill",
    ]);
    expect(admit(manifest("action: RandomKill\ntarget: node-1")).errors).toEqual([
      "spec.target: Forbidden: may not be set when action is RandomKill",
    ]);
  });

  it("checks RandomKill's pool entries", () => {
    expect(admit(manifest("action: RandomKill\nactions: [PodKill, RandomKill, PodKill]")).errors).toEqual([
      'spec.actions[1]: Unsupported value: "RandomKill": supported values: "PodKill", "KubeletKill", ' +
        '"NodeKill", "SchedulerLeaderKill", "ControllerManagerLeaderKill", "ApiserverKill", ' +
        '"EtcdMemberKill", "EtcdLeaderKill", "NodePause"',
      'spec.actions[2]: Duplicate value: "PodKill"',
    ]);
  });

  it("checks the target and workload names", () => {
    expect(admit(manifest("action: PodKill\ntarget: Node_2")).errors).toEqual([
      expect.stringMatching(/^spec\.target: Invalid value: "Node_2": a lowercase RFC 1123 subdomain/),
    ]);
    expect(admit(manifest("action: PodKill\nworkload:\n  service: web")).errors).toEqual([
      "spec.workload.deployment: Required value",
    ]);
    expect(admit(manifest("action: PodKill\nworkload:\n  deployment: web")).errors).toEqual([
      "spec.workload.service: Required value",
    ]);
  });

  it("keeps the spec immutable but lets labels change", () => {
    const { obj } = admit<Experiment>(manifest("action: PodKill"));
    obj.metadata!.resourceVersion = "5";
    obj.metadata!.uid = "u";
    obj.metadata!.creationTimestamp = "2026-12-01T11:00:00Z";
    expect(
      update(obj, (o) => {
        o.spec!.target = "web-1";
      }),
    ).toEqual(["spec: Forbidden: experiment spec is immutable; create a new Experiment instead"]);
    expect(
      update(obj, (o) => {
        o.metadata!.labels = { suite: "ci" };
      }),
    ).toEqual([]);
  });

  it("selects by action and phase", () => {
    const { obj } = admit<Experiment>(manifest("action: NodePause"));
    expect(strategy.selectableFields(obj)).toEqual({ "spec.action": "NodePause", "status.phase": "" });
  });
});

describe("Experiment status validation", () => {
  const done = {
    phase: "Succeeded",
    verdict: "Passed",
    startTime: "2026-12-01T11:00:00Z",
    completionTime: "2026-12-01T11:00:31.250Z",
    timeline: [
      { time: "2026-12-01T11:00:01.000Z", offsetSeconds: 0, event: "Kill", detail: "node-2" },
      { time: "2026-12-01T11:00:09.500Z", offsetSeconds: 8.5, event: "NodeNotReady", detail: "" },
    ],
    figures: { detectionSeconds: 8.5, recoverySeconds: 12.25, target: 15 },
    requests: { total: 600, succeeded: 598, failed: 2, successRatio: 598 / 600, p50Ms: 3, p99Ms: 40 },
    invariants: [
      { name: "DesiredReplicas", ok: true, message: "3/3 ready" },
      { name: "NoObjectLost", ok: true },
    ],
    samples: [{ offsetSeconds: 0, readyReplicas: 3, requestsOk: 20, requestsFailed: 0 }],
  };

  it("accepts a complete record", () => {
    expect(statusErrors(done, { phase: "Running" })).toEqual([]);
  });

  it("names bad phases and verdicts with the supported values", () => {
    expect(statusErrors({ phase: "Done", verdict: "Maybe" })).toEqual([
      'status.phase: Unsupported value: "Done": supported values: "Pending", "Running", "Succeeded", "Failed"',
      'status.verdict: Unsupported value: "Maybe": supported values: "Passed", "Failed"',
    ]);
  });

  it("never leaves a final phase", () => {
    expect(statusErrors({ phase: "Running" }, { phase: "Failed" })).toEqual([
      "status.phase: Forbidden: may not change once it is Failed",
    ]);
    expect(statusErrors({ phase: "Failed", message: "later" }, { phase: "Failed" })).toEqual([]);
  });

  it("bounds samples and checks counts, ratios and timestamps", () => {
    const samples = Array.from({ length: 601 }, (_, i) => ({ offsetSeconds: i, readyReplicas: 3 }));
    expect(statusErrors({ samples })).toEqual([
      "status.samples: Too many: must have at most 600 items (got 601)",
    ]);
    expect(
      statusErrors({
        startTime: "yesterday",
        requests: { total: 10, succeeded: 9, failed: 2, successRatio: 1.5, p50Ms: 50, p99Ms: 10 },
        writes: { acknowledged: 3, lost: 4 },
        timeline: [{ time: "2026-12-01T11:00:01Z", event: "" }],
        invariants: [{ name: "NoObjectLost" }, { name: "NoObjectLost" }],
        kills: [{ time: "2026-12-01T11:00:01Z", action: "Nap" }],
      }),
    ).toEqual([
      'status.startTime: Invalid value: "yesterday": must be an RFC 3339 timestamp',
      "status.timeline[0].event: Required value",
      "status.requests.total: Invalid value: 10: must be greater than or equal to succeeded + failed (11)",
      "status.requests.successRatio: Invalid value: 1.5: must be between 0 and 1, inclusive",
      "status.requests.p50Ms: Invalid value: 50: must be less than or equal to p99Ms (10)",
      "status.writes.lost: Invalid value: 4: must be less than or equal to acknowledged (3)",
      'status.invariants[1].name: Duplicate value: "NoObjectLost"',
      expect.stringMatching(
        /^status\.kills\[0\]\.action: Unsupported value: "Nap": supported values: "PodKill"/,
      ),
    ]);
  });
});
