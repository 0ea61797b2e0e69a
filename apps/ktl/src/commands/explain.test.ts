import { describe, expect, it } from "vitest";
import { explainTiming, type LiveTiming, referenceProfile, timingRows } from "./explain.js";

const fastCluster = (): LiveTiming => ({
  sources: [
    {
      component: "apiserver",
      where: "configmap kube-system/tskube-timing",
      profile: "fast",
      values: {
        "default-not-ready-toleration-seconds": "3",
        "default-unreachable-toleration-seconds": "3",
        "default-probe-period-seconds": "2",
      },
    },
    {
      component: "controller-manager",
      where: "lease kube-system/kube-controller-manager (holder cm-0)",
      profile: "fast",
      values: {
        "node-monitor-grace-period": "5s",
        "node-monitor-period": "1s",
        "leader-elect-lease-duration": "3s",
      },
    },
    {
      component: "kubelet",
      where: "lease kube-node-lease/node-1",
      profile: "fast",
      values: { "node-lease-renew-interval": "1s", "node-lease-duration-seconds": "4" },
    },
    {
      component: "kubelet",
      where: "lease kube-node-lease/node-2",
      profile: "fast",
      values: { "node-lease-renew-interval": "1000ms", "node-lease-duration-seconds": "4" },
    },
  ],
});

const row = (rows: ReturnType<typeof timingRows>, component: string, flag: string) =>
  rows.find((r) => r.setting.component === component && r.setting.flag === flag)!;

describe("ktl explain timing", () => {
  it("compares with the apiserver's recorded profile unless one is asked for", () => {
    expect(referenceProfile(fastCluster())).toBe("fast");
    expect(referenceProfile(fastCluster(), "upstream")).toBe("upstream");
    expect(referenceProfile(undefined)).toBe("upstream");
    expect(referenceProfile({ sources: [] }, "fast")).toBe("fast");
  });

  it("shows live values with their source and the profile's where no component shows one", () => {
    const rows = timingRows(fastCluster(), "fast");
    expect(row(rows, "controller-manager", "node-monitor-grace-period")).toMatchObject({
      value: "5s",
      source: "lease kube-system/kube-controller-manager (holder cm-0)",
      differs: false,
    });
    // Two spellings of one second agree.
    expect(row(rows, "kubelet", "node-lease-renew-interval")).toMatchObject({
      value: "1s",
      source: "lease kube-node-lease/node-1 (+1 more)",
      differs: false,
    });
    expect(row(rows, "scheduler", "leader-elect-lease-duration")).toMatchObject({
      value: "3s",
      source: "profile",
      differs: false,
    });
  });

  it("marks values that are not the profile's and instances that disagree", () => {
    const live = fastCluster();
    live.sources[1]!.values["node-monitor-grace-period"] = "8s";
    live.sources[3]!.values["node-lease-renew-interval"] = "2s";
    const rows = timingRows(live, "fast");
    expect(row(rows, "controller-manager", "node-monitor-grace-period")).toMatchObject({
      value: "8s",
      differs: true,
    });
    expect(row(rows, "kubelet", "node-lease-renew-interval")).toMatchObject({
      value: "1s (node-1), 2s (node-2)",
      source: "2 instances disagree",
      differs: true,
    });
    const text = explainTiming(live, "fast", false);
    expect(text).toMatch(/--node-monitor-grace-period\s+8s \*\s+5s\s+50s/);
    expect(text).toContain("* not the fast profile's value");
    // The worst case uses the live 8 s grace period: 8 + 1 + 0.1 + 3 + 2.
    expect(text).toContain("Worst case from a node's death to its pods running elsewhere: 14.1s of timers");
  });

  it("against upstream, a fast cluster's values all differ", () => {
    const rows = timingRows(fastCluster(), "upstream");
    expect(row(rows, "apiserver", "default-unreachable-toleration-seconds")).toMatchObject({
      value: "3",
      differs: true,
    });
    expect(row(rows, "kubelet", "crash-loop-backoff-max")).toMatchObject({ value: "5m", source: "profile" });
  });

  it("without a cluster prints the profile's table and worst cases", () => {
    const text = explainTiming(undefined, "upstream", true);
    expect(text).toContain("Timing profile: upstream (no cluster reached: the profile's values)");
    expect(text).toMatch(/COMPONENT\s+SETTING\s+FLAG\s+VALUE\s+UPSTREAM\s+SOURCE/);
    expect(text).toContain("running elsewhere: 6m5.1s of timers, plus");
    expect(text).toMatch(
      /scheduler\s+19s\s+\(2s --leader-elect-retry-period \+ 15s --leader-elect-lease-duration \+ 2s --leader-elect-retry-period\)/,
    );
    expect(text).not.toContain(" *");
  });
});
