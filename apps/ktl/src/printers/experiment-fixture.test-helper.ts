import { Experiment } from "@tskube/api";

/** A finished NodeKill as the chaos controller records it (status shape of chaos.proto). */
export function finishedNodeKill(overrides: { verdict?: string; recoverySeconds?: number } = {}): Experiment {
  const recovery = overrides.recoverySeconds ?? 12.25;
  return Experiment.fromPartial({
    apiVersion: "chaos.tskube.io/v1alpha1",
    kind: "Experiment",
    metadata: {
      name: "node-2-kill",
      namespace: "default",
      uid: "u-1",
      creationTimestamp: "2026-12-01T11:00:00Z",
      labels: { suite: "ci" },
    },
    spec: {
      action: "NodeKill",
      target: "node-2",
      requestsPerSecond: 20,
      durationSeconds: 45,
      downSeconds: 20,
    },
    status: {
      phase: "Succeeded",
      verdict: overrides.verdict ?? "Passed",
      startTime: "2026-12-01T11:00:01Z",
      completionTime: "2026-12-01T11:00:48Z",
      timeline: [
        {
          time: "2026-12-01T11:00:02.000Z",
          offsetSeconds: 0,
          event: "Kill",
          detail: "node-2 (kubelet, kube-proxy, 2 pods)",
        },
        { time: "2026-12-01T11:00:10.500Z", offsetSeconds: 8.5, event: "NodeNotReady", detail: "node-2" },
        {
          time: "2026-12-01T11:00:11.000Z",
          offsetSeconds: 9,
          event: "ReplacementScheduled",
          detail: "web-7d9-x2 → node-3",
        },
        {
          time: "2026-12-01T11:00:14.250Z",
          offsetSeconds: recovery,
          event: "ReplacementReady",
          detail: "web-7d9-x2",
        },
        { time: "2026-12-01T11:00:22.000Z", offsetSeconds: 20, event: "Restored", detail: "node-2" },
      ],
      figures: { detectionSeconds: 8.5, recoverySeconds: recovery, target: 15 },
      requests: { total: 900, succeeded: 897, failed: 3, successRatio: 897 / 900, p50Ms: 2.4, p99Ms: 41.7 },
      invariants: [
        { name: "DesiredReplicas", ok: true, message: "3/3 ready" },
        { name: "NoObjectLost", ok: true, message: "41 objects before, all present" },
        { name: "NoDuplicatePods", ok: overrides.verdict !== "Failed", message: "at most 4 pods (surge 1)" },
      ],
      samples: Array.from({ length: 46 }, (_, i) => ({
        offsetSeconds: i - 1,
        readyReplicas: i >= 1 && i < 14 ? 2 : 3,
        requestsOk: i === 1 ? 17 : 20,
        requestsFailed: i === 1 ? 3 : 0,
      })),
    },
  });
}
