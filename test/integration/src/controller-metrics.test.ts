import { ReplicaSet } from "@tskube/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import { type ComponentHandle, startControllerManager, waitFor } from "./harness.js";

/** The value of one sample line of a Prometheus text page, undefined when absent. */
function sample(page: string, series: string): number | undefined {
  const line = page.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/**
 * The controller-manager's /metrics carries client-go's workqueue series and controller-runtime's
 * reconcile series per controller, moving as its controllers work.
 */
describe("controller-manager metrics", () => {
  const c = useCluster();
  let cm: ComponentHandle;

  beforeAll(async () => {
    cm = await startControllerManager(c.servers, "metrics", [
      "--leader-elect",
      "false",
      "--controllers",
      "replicaset",
    ]);
  });
  afterAll(async () => {
    await cm?.stop();
  });

  it("counts the ReplicaSet controller's adds and successful reconciles on /metrics", async () => {
    const scrape = async () => (await fetch(`${cm.httpUrl}/metrics`)).text();
    const before = await scrape();
    for (const result of ["success", "error", "requeue", "requeue_after"])
      expect(
        sample(before, `controller_runtime_reconcile_total{controller="replicaset",result="${result}"}`),
      ).toBe(0);
    expect(sample(before, 'controller_runtime_max_concurrent_reconciles{controller="replicaset"}')).toBe(5);
    await c.client.resource<ReplicaSet>("replicasets").create(
      ReplicaSet.fromPartial({
        metadata: { name: "metrics", namespace: "default" },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "metrics" } },
          template: {
            metadata: { labels: { app: "metrics" } },
            spec: { containers: [{ name: "c", image: "busybox:1.36" }] },
          },
        },
      }),
    );
    let page = "";
    await waitFor("a successful replicaset reconcile on /metrics", async () => {
      page = await scrape();
      return (
        (sample(page, 'controller_runtime_reconcile_total{controller="replicaset",result="success"}') ?? 0) >
        0
      );
    });
    expect(sample(page, 'workqueue_adds_total{name="replicaset"}')).toBeGreaterThan(0);
    expect(sample(page, 'workqueue_queue_duration_seconds_count{name="replicaset"}')).toBeGreaterThan(0);
    expect(sample(page, 'workqueue_work_duration_seconds_count{name="replicaset"}')).toBeGreaterThan(0);
    expect(
      sample(page, 'controller_runtime_reconcile_time_seconds_count{controller="replicaset"}'),
    ).toBeGreaterThan(0);
    expect(page).toContain('workqueue_depth{name="replicaset"}');
    expect(page).toContain('workqueue_longest_running_processor_seconds{name="replicaset"}');
  });
});
