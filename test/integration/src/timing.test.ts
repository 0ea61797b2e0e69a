import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConfigMap, type Lease, Pod } from "@tskube/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import {
  type ComponentHandle,
  freePort,
  ktl,
  REPO_ROOT,
  startApiserver,
  startComponent,
  waitFor,
} from "./harness.js";

/**
 * The timing profile end to end: an apiserver, a scheduler and a hollow kubelet started with the
 * fast profile (by flag or TSKUBE_TIMING_PROFILE), two timers overridden by flags; the apiserver's
 * ConfigMap and the components' Leases record what each runs with, and `ktl explain timing` reads
 * it back through the apiserver.
 */
describe("timing profile", () => {
  const c = useCluster({
    apiserverArgs: ["--timing-profile", "fast", "--default-unreachable-toleration-seconds", "7"],
  });
  const components: ComponentHandle[] = [];

  beforeAll(async () => {
    components.push(
      await startComponent("scheduler", ["--server", c.servers.join(","), "--id", "sched-a"], {
        TSKUBE_TIMING_PROFILE: "fast",
      }),
      await startComponent("kubelet", [
        "--server",
        c.servers.join(","),
        "--runtime",
        "fake",
        "--node-name",
        "timing-node",
        "--pod-cidr",
        "10.203.0.0/16",
        "--port",
        String(await freePort()),
        "--root-dir",
        mkdtempSync(join(tmpdir(), "tskube-timing-kubelet-")),
        "--timing-profile",
        "fast",
        "--node-lease-renew-interval",
        "2s",
      ]),
    );
  });
  afterAll(async () => {
    for (const p of components) await p.stop();
  });

  it("the apiserver records its profile and values in kube-system/tskube-timing", async () => {
    const cm = await c.client
      .resource<ConfigMap>("configmaps")
      .get("tskube-timing", { namespace: "kube-system" });
    expect(cm.data).toEqual({
      profile: "fast",
      "default-not-ready-toleration-seconds": "3",
      "default-unreachable-toleration-seconds": "7",
      "default-probe-period-seconds": "2",
    });
  });

  it("the scheduler and kubelet record theirs on their Leases", async () => {
    const leases = c.client.resource<Lease>("leases");
    let scheduler: Lease | undefined;
    let node: Lease | undefined;
    await waitFor("annotated leases", async () => {
      scheduler = await leases.get("kube-scheduler", { namespace: "kube-system" });
      node = await leases.get("timing-node", { namespace: "kube-node-lease" });
      return scheduler.spec?.holderIdentity === "sched-a" && !!node.metadata?.annotations["tskube.io/timing"];
    });
    expect(scheduler!.spec?.leaseDurationSeconds).toBe(3);
    expect(scheduler!.metadata?.annotations["tskube.io/timing-profile"]).toBe("fast");
    expect(JSON.parse(scheduler!.metadata!.annotations["tskube.io/timing"]!)).toEqual({
      "leader-elect-lease-duration": "3s",
      "leader-elect-renew-deadline": "2s",
      "leader-elect-retry-period": "500ms",
    });
    expect(node!.spec?.leaseDurationSeconds).toBe(4);
    expect(JSON.parse(node!.metadata!.annotations["tskube.io/timing"]!)).toMatchObject({
      "node-lease-renew-interval": "2s",
      "node-status-update-frequency": "1s",
      "crash-loop-backoff-initial": "1s",
    });
  });

  it("ktl explain timing prints the live values, their sources and what differs from the profile", async () => {
    const { code, stdout, stderr } = await ktl(c.servers.join(","), ["explain", "timing"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("Timing profile: fast (recorded in configmap kube-system/tskube-timing)");
    expect(stdout).toMatch(/scheduler\s+fast\s+lease kube-system\/kube-scheduler \(holder sched-a\)/);
    expect(stdout).toMatch(/kubelet\s+fast\s+lease kube-node-lease\/timing-node/);
    // No controller-manager runs: its rows are the profile's.
    expect(stdout).toMatch(/controller-manager\s+-\s+not found/);
    expect(stdout).toMatch(/--node-monitor-grace-period\s+5s\s+5s\s+50s\s+profile/);
    expect(stdout).toMatch(
      /scheduler\s+leader election lease duration\s+--leader-elect-lease-duration\s+3s\s+3s\s+15s\s+lease kube-system\/kube-scheduler \(holder sched-a\)/,
    );
    // The two flags given explicitly win over the profile and are marked.
    expect(stdout).toMatch(
      /--node-lease-renew-interval\s+2s \*\s+1s\s+10s\s+lease kube-node-lease\/timing-node/,
    );
    expect(stdout).toMatch(
      /--default-unreachable-toleration-seconds\s+7 \*\s+3\s+300\s+configmap kube-system\/tskube-timing/,
    );
    expect(stdout).toMatch(/--crash-loop-backoff-max\s+30s\s+30s\s+5m\s+lease kube-node-lease\/timing-node/);
    // 5 + 1 + 0.1 + 7 (the live toleration) + 2.
    expect(stdout).toContain("Worst case from a node's death to its pods running elsewhere: 15.1s of timers");
    expect(stdout).toMatch(
      /scheduler\s+4s\s+\(500ms --leader-elect-retry-period \+ 3s --leader-elect-lease-duration \+ 500ms --leader-elect-retry-period\)/,
    );
  });

  it("ktl explain timing --profile upstream compares the fast cluster with Kubernetes' defaults", async () => {
    const { code, stdout } = await ktl(c.servers.join(","), ["explain", "timing", "--profile", "upstream"]);
    expect(code).toBe(0);
    expect(stdout).toContain("Timing profile: upstream (as asked; compared with the running cluster)");
    expect(stdout).toMatch(/--leader-elect-lease-duration\s+3s \*\s+15s\s+lease kube-system\/kube-scheduler/);
  });

  it("probes without periodSeconds get the apiserver profile's period; a manifest's period is kept", async () => {
    const pods = c.client.resource<Pod>("pods");
    const created = await pods.create(
      Pod.fromPartial({
        metadata: { name: "probed", namespace: "default" },
        spec: {
          containers: [
            {
              name: "web",
              image: "nginx:1.27",
              readinessProbe: { tcpSocket: { port: "80" } },
              livenessProbe: { tcpSocket: { port: "80" }, periodSeconds: 5 },
            },
          ],
        },
      }),
    );
    expect(created.spec!.containers[0]!.readinessProbe?.periodSeconds).toBe(2);
    expect(created.spec!.containers[0]!.livenessProbe?.periodSeconds).toBe(5);
    expect(created.spec!.tolerations).toContainEqual(
      expect.objectContaining({ key: "node.kubernetes.io/unreachable", tolerationSeconds: 7 }),
    );
    expect(created.spec!.tolerations).toContainEqual(
      expect.objectContaining({ key: "node.kubernetes.io/not-ready", tolerationSeconds: 3 }),
    );
    await pods.delete("probed", { namespace: "default", gracePeriodSeconds: 0 });
  });

  it("an unknown profile is refused at start, naming the flag", () => {
    for (const app of ["apiserver", "scheduler", "controller-manager", "kubelet"]) {
      const r = spawnSync(process.execPath, ["--import", "tsx", `apps/${app}/src/main.ts`], {
        cwd: REPO_ROOT,
        env: { ...process.env, TSKUBE_TIMING_PROFILE: "quick" },
        encoding: "utf8",
        timeout: 60_000,
      });
      expect({ app, status: r.status, stderr: r.stderr.trim() }).toEqual({
        app,
        status: 2,
        stderr: 'error: --timing-profile: Unsupported value: "quick": supported values: "fast", "upstream"',
      });
    }
  });

  it("an apiserver started later with another profile rewrites the record", async () => {
    const other = await startApiserver(c.etcd.endpoint, { env: { TSKUBE_TIMING_PROFILE: "upstream" } });
    try {
      const cm = await c.client
        .resource<ConfigMap>("configmaps")
        .get("tskube-timing", { namespace: "kube-system" });
      expect(cm.data).toEqual({
        profile: "upstream",
        "default-not-ready-toleration-seconds": "300",
        "default-unreachable-toleration-seconds": "300",
        "default-probe-period-seconds": "10",
      });
      // The scheduler and kubelet still run fast: their profile shows beside the apiserver's.
      const { stdout } = await ktl(c.servers.join(","), ["explain", "timing"]);
      expect(stdout).toContain("Timing profile: upstream (recorded in configmap kube-system/tskube-timing)");
      expect(stdout).toMatch(/scheduler\s+fast\s+lease kube-system\/kube-scheduler/);
      expect(stdout).toMatch(
        /--leader-elect-lease-duration\s+3s \*\s+15s\s+lease kube-system\/kube-scheduler/,
      );
    } finally {
      await other.stop();
    }
  });
});
