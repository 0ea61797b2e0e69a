import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Experiment, ExperimentStatus } from "@tskube/api";
import type { WatchEvent } from "@tskube/client";
import { describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import { ktl, waitFor } from "./harness.js";

const MANIFEST = `
apiVersion: chaos.tskube.io/v1alpha1
kind: Experiment
metadata:
  name: kubelet-2
  namespace: chaos
spec:
  action: KubeletKill
  target: node-2
  durationSeconds: 40
`;

/** A finished run as the chaos controller would write it. */
const finished = (verdict: "Passed" | "Failed") =>
  ExperimentStatus.fromPartial({
    phase: verdict === "Passed" ? "Succeeded" : "Failed",
    verdict,
    startTime: "2026-12-01T11:00:00Z",
    completionTime: "2026-12-01T11:00:41Z",
    timeline: [
      { time: "2026-12-01T11:00:01.000Z", offsetSeconds: 0, event: "Kill", detail: "kubelet on node-2" },
      { time: "2026-12-01T11:00:09.000Z", offsetSeconds: 8, event: "NodeNotReady", detail: "node-2" },
      { time: "2026-12-01T11:00:14.500Z", offsetSeconds: 13.5, event: "ReplacementReady", detail: "web-x" },
    ],
    figures: { detectionSeconds: 8, recoverySeconds: 13.5, target: 15 },
    requests: { total: 800, succeeded: 800, failed: 0, successRatio: 1, p50Ms: 2, p99Ms: 9 },
    invariants: [
      { name: "DesiredReplicas", ok: true, message: "3/3 ready" },
      {
        name: "NoDuplicatePods",
        ok: verdict === "Passed",
        message: verdict === "Passed" ? "" : "5 pods, surge allows 4",
      },
    ],
    samples: [
      { offsetSeconds: 0, readyReplicas: 3, requestsOk: 20 },
      { offsetSeconds: 1, readyReplicas: 2, requestsOk: 19, requestsFailed: 1 },
    ],
  });

/**
 * The Experiment kind through the real apiserver and etcd: messages plus a strategy are all a kind
 * needs, so create, get, list, watch and updateStatus work without kind-specific server code.
 */
describe("Experiment API", () => {
  const c = useCluster();
  const exps = () => c.client.resource<Experiment>("experiments");

  it("creates with defaults, drops a client-sent status and rejects bad specs with field paths", async () => {
    const created = await exps().create(
      Experiment.fromPartial({
        metadata: { name: "node-kill", namespace: "default" },
        spec: { action: "NodeKill", target: "node-2" },
        status: { phase: "Succeeded" },
      }),
    );
    expect(created.apiVersion).toBe("chaos.tskube.io/v1alpha1");
    expect(created.kind).toBe("Experiment");
    expect(created.metadata?.generation).toBe(1);
    expect(created.spec).toMatchObject({ requestsPerSecond: 20, durationSeconds: 45, downSeconds: 20 });
    expect(created.status).toBeUndefined();

    await expect(
      exps().create(
        Experiment.fromPartial({ metadata: { name: "bad" }, spec: { action: "Nap", requestsPerSecond: 0 } }),
      ),
    ).rejects.toThrow(
      /spec\.action: Unsupported value: "Nap": supported values: "PodKill".*spec\.requestsPerSecond: Invalid value: 0: must be between 1 and 1000, inclusive/s,
    );
    await expect(
      exps().update(Experiment.fromPartial({ ...created, spec: { ...created.spec, target: "node-3" } })),
    ).rejects.toThrow(/spec: Forbidden: experiment spec is immutable/);
  });

  it("gets, lists by field selector and watches status written through UpdateStatus", async () => {
    await exps().create(
      Experiment.fromPartial({ metadata: { name: "pod-kill" }, spec: { action: "PodKill" } }),
    );
    const listed = await exps().list({ namespace: "default", fieldSelector: "spec.action=PodKill" });
    expect(listed.items.map((e) => e.metadata?.name)).toEqual(["pod-kill"]);

    const ac = new AbortController();
    const seen: WatchEvent<Experiment>[] = [];
    const watching = (async () => {
      for await (const ev of exps().watch({
        namespace: "default",
        resourceVersion: listed.resourceVersion,
        fieldSelector: "metadata.name=pod-kill",
        signal: ac.signal,
      })) {
        seen.push(ev);
        if (ev.object.status?.phase === "Succeeded") ac.abort();
      }
    })();

    const cur = await exps().get("pod-kill", { namespace: "default" });
    const running = await exps().updateStatus(
      Experiment.fromPartial({
        ...cur,
        status: ExperimentStatus.fromPartial({ phase: "Running", startTime: "2026-12-01T11:00:00Z" }),
      }),
    );
    expect(running.status?.phase).toBe("Running");
    expect(running.metadata?.generation).toBe(1);
    const done = await exps().updateStatus(
      Experiment.fromPartial({
        ...running,
        status: ExperimentStatus.fromPartial({
          ...running.status,
          phase: "Succeeded",
          verdict: "Passed",
          figures: { recoverySeconds: 1.25, target: 2 },
          samples: [{ offsetSeconds: 0, readyReplicas: 3, requestsOk: 20 }],
        }),
      }),
    );
    await watching;
    expect(seen.map((e) => [e.type, e.object.status?.phase])).toEqual([
      ["MODIFIED", "Running"],
      ["MODIFIED", "Succeeded"],
    ]);
    expect((await exps().get("pod-kill", { namespace: "default" })).status).toMatchObject({
      verdict: "Passed",
      figures: { recoverySeconds: 1.25, target: 2 },
    });
    const byPhase = await exps().list({ namespace: "default", fieldSelector: "status.phase=Succeeded" });
    expect(byPhase.items.map((e) => e.metadata?.name)).toEqual(["pod-kill"]);

    await expect(
      exps().updateStatus(Experiment.fromPartial({ ...done, status: { ...done.status, phase: "Running" } })),
    ).rejects.toThrow(/status\.phase: Forbidden: may not change once it is Succeeded/);
  });

  it("ktl apply, get and describe show the Experiment and the status written through UpdateStatus", async () => {
    const server = c.servers.join(",");
    const ns = await ktl(
      server,
      ["apply", "-f", "-"],
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: chaos\n",
    );
    expect(ns.code).toBe(0);
    const applied = await ktl(server, ["apply", "-f", "-"], MANIFEST);
    expect(applied.stderr).toBe("");
    expect(applied.stdout).toBe("experiment.chaos.tskube.io/kubelet-2 created\n");

    const pending = await ktl(server, ["get", "exp", "-n", "chaos"]);
    expect(pending.code).toBe(0);
    expect(pending.stdout).toMatch(/^NAME\s+ACTION\s+TARGET\s+PHASE\s+VERDICT\s+RECOVERY\s+AGE$/m);
    expect(pending.stdout).toMatch(/^kubelet-2\s+KubeletKill\s+node-2\s+Pending\s+<none>\s+<none>\s+\d+s$/m);

    const cur = await exps().get("kubelet-2", { namespace: "chaos" });
    await exps().updateStatus(Experiment.fromPartial({ ...cur, status: finished("Passed") }));

    const got = await ktl(server, ["get", "experiments", "-n", "chaos", "-o", "wide"]);
    expect(got.stdout).toMatch(
      /^kubelet-2\s+KubeletKill\s+node-2\s+Succeeded\s+Passed\s+13\.5s\s+\d+s\s+8s\s+100\.00%\s+2\/2$/m,
    );

    const d = await ktl(server, ["describe", "experiment", "kubelet-2", "-n", "chaos"]);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/^Action:\s+KubeletKill$/m);
    expect(d.stdout).toMatch(/^Duration:\s+40s$/m);
    expect(d.stdout).toMatch(/^Down:\s+20s$/m);
    expect(d.stdout).toMatch(/^ {2}\+8\.000s\s+2026-12-01T11:00:09\.000Z\s+NodeNotReady\s+node-2$/m);
    expect(d.stdout).toMatch(/^ {2}Recovery:\s+13\.5s \(target 15s: met\)$/m);
    expect(d.stdout).toMatch(/^ {2}NoDuplicatePods\s+OK\s*$/m);
    expect(d.stdout).toMatch(/^Verdict:\s+Passed$/m);
  });

  it("ktl chaos report writes the status as JSON and the HTML page with the chart", async () => {
    const server = c.servers.join(",");
    const created = await exps().create(
      Experiment.fromPartial({ metadata: { name: "report-me" }, spec: { action: "KubeletKill" } }),
    );
    await exps().updateStatus(Experiment.fromPartial({ ...created, status: finished("Passed") }));
    const dir = mkdtempSync(join(tmpdir(), "tskube-report-"));
    const html = join(dir, "report.html");
    const report = await ktl(server, ["chaos", "report", "report-me", "-o", "html", "--output", html]);
    expect(report.stdout).toBe(`wrote ${html}\n`);
    const page = readFileSync(html, "utf8");
    expect(page).toMatch(/<polyline id="series-ready-replicas"[^>]* points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"/);
    const json = await ktl(server, ["chaos", "report", "report-me"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ verdict: "Passed", figures: { recoverySeconds: 13.5 } });

    const missing = await ktl(server, ["chaos", "report", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^Error from server \(NotFound\): experiments.chaos.tskube.io "nope" not found/,
    );
  });

  it("ktl chaos run creates from flags and refuses bad values with the field path", async () => {
    const server = c.servers.join(",");
    const plain = await ktl(server, ["chaos", "run", "etcd-leader-kill"]);
    expect(plain.stderr).toBe("");
    const name = /^experiment\.chaos\.tskube\.io\/(etcd-leader-kill-[a-z0-9]{5}) created$/m.exec(
      plain.stdout,
    )?.[1];
    expect(name).toBeDefined();
    expect((await exps().get(name!, { namespace: "default" })).spec).toMatchObject({
      action: "EtcdLeaderKill",
      durationSeconds: 30,
      requestsPerSecond: 20,
    });

    const bad = await ktl(server, ["chaos", "run", "node-pause", "--down", "30s", "--duration", "10s"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /spec\.downSeconds: Invalid value: 30: must be less than spec\.durationSeconds \(10\)/,
    );
    const unknown = await ktl(server, ["chaos", "run", "explode"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(
      /^error: unknown chaos action "explode": supported actions are pod-kill, /,
    );
  });

  it("ktl chaos run --wait follows the Experiment and exits 1 on a Failed verdict", async () => {
    const server = c.servers.join(",");
    const waiting = ktl(server, [
      "chaos",
      "run",
      "KubeletKill",
      "--name",
      "waited",
      "--target",
      "node-1",
      "--wait",
    ]);
    let cur: Experiment | undefined;
    await waitFor("the experiment ktl creates", async () => {
      cur = await exps().get("waited", { namespace: "default" });
      return true;
    });
    const running = await exps().updateStatus(
      Experiment.fromPartial({ ...cur!, status: { phase: "Running", startTime: "2026-12-01T11:00:00Z" } }),
    );
    await exps().updateStatus(Experiment.fromPartial({ ...running, status: finished("Failed") }));
    const r = await waiting;
    expect(r.stderr).toBe("");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^experiment\.chaos\.tskube\.io\/waited created$/m);
    expect(r.stdout).toMatch(/^experiment "waited": Failed$/m);
    expect(r.stdout).toMatch(/^Verdict:\s+Failed$/m);
    expect(r.stdout).toMatch(/^ {2}NoDuplicatePods\s+FAILED\s+5 pods, surge allows 4$/m);
  });
});
