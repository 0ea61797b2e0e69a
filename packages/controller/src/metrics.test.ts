import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { FakeClock, flush } from "./clock.js";
import { Controller } from "./controller.js";
import { registerControllerMetrics } from "./metrics.js";
import { ItemExponentialFailureRateLimiter } from "./rate-limiter.js";
import { TerminalError } from "./terminal-error.js";
import { WorkQueue } from "./workqueue.js";

/** The value of a series (the _count / _sum of a histogram by suffix), 0 when absent. */
async function value(registry: Registry, name: string, labels: Record<string, string>, suffix = "") {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const values = (await metric.get()).values as {
    value: number;
    labels: Record<string, unknown>;
    metricName?: string;
  }[];
  const v = values.find(
    (x) =>
      (suffix === "" || x.metricName === `${name}${suffix}`) &&
      Object.entries(labels).every(([k, l]) => x.labels[k] === l),
  );
  return v?.value ?? 0;
}

describe("controller metrics", () => {
  it("tracks a work queue's depth, adds, retries, queue and work durations and work in flight", async () => {
    const registry = new Registry();
    const metrics = registerControllerMetrics(registry);
    const clock = new FakeClock();
    const q = new WorkQueue<string>(
      clock,
      new ItemExponentialFailureRateLimiter(100, 1000),
      metrics.queue("q", clock),
    );
    const name = { name: "q" };
    q.add("a");
    q.add("a"); // collapsed: not another add
    q.add("b");
    expect(await value(registry, "workqueue_depth", name)).toBe(2);
    expect(await value(registry, "workqueue_adds_total", name)).toBe(2);

    await clock.step(2000);
    expect(await q.get()).toBe("a");
    expect(await value(registry, "workqueue_depth", name)).toBe(1);
    expect(await value(registry, "workqueue_queue_duration_seconds", name, "_count")).toBe(1);
    expect(await value(registry, "workqueue_queue_duration_seconds", name, "_sum")).toBe(2);

    await clock.step(3000);
    expect(await q.get()).toBe("b");
    await clock.step(1000);
    // a for 4 s, b for 1 s, both still in hand.
    expect(await value(registry, "workqueue_unfinished_work_seconds", name)).toBe(5);
    expect(await value(registry, "workqueue_longest_running_processor_seconds", name)).toBe(4);

    q.add("a"); // while processing: an add, counted in depth, handed out after done()
    expect(await value(registry, "workqueue_adds_total", name)).toBe(3);
    expect(await value(registry, "workqueue_depth", name)).toBe(1);
    q.done("a");
    expect(await value(registry, "workqueue_work_duration_seconds", name, "_count")).toBe(1);
    expect(await value(registry, "workqueue_work_duration_seconds", name, "_sum")).toBe(4);
    expect(await value(registry, "workqueue_adds_total", name)).toBe(3);
    expect(await q.get()).toBe("a");
    expect(await value(registry, "workqueue_depth", name)).toBe(0);
    expect(await value(registry, "workqueue_queue_duration_seconds", name, "_sum")).toBe(2 + 5 + 0);

    q.done("b");
    q.addRateLimited("b");
    q.addAfter("c", 50);
    expect(await value(registry, "workqueue_retries_total", name)).toBe(2);
    expect(await value(registry, "workqueue_depth", name)).toBe(0);
    await clock.step(100);
    expect(await value(registry, "workqueue_depth", name)).toBe(2);
    expect(await value(registry, "workqueue_longest_running_processor_seconds", name)).toBe(0.1);

    // A stopped queue gives its depth back and is no longer sampled.
    q.shutDown();
    expect(await value(registry, "workqueue_depth", name)).toBe(0);
    expect(await value(registry, "workqueue_unfinished_work_seconds", name)).toBe(0);
  });

  it("counts reconciles by result, errors, terminal errors and reconcile time per controller", async () => {
    const registry = new Registry();
    const metrics = registerControllerMetrics(registry);
    const clock = new FakeClock();
    const outcome: Record<string, () => Promise<undefined | { requeueAfterMs?: number; requeue?: boolean }>> =
      {
        ok: async () => {
          await new Promise<void>((r) => clock.setTimeout(r, 250));
          return undefined;
        },
        later: async () => ({ requeueAfterMs: 60_000 }),
        again: async () => ({ requeue: true }),
        flaky: async () => {
          throw new Error("try again");
        },
        doomed: async () => {
          throw new TerminalError(new Error("spec.image: Invalid value"));
        },
      };
    const calls: string[] = [];
    const c = new Controller({
      name: "test",
      clock,
      metrics,
      workers: 2,
      reconcile: (key) => {
        calls.push(key);
        return outcome[key]!();
      },
    });
    const controller = { controller: "test" };
    // Every result is there from the start, at 0, as controller-runtime reports them.
    for (const result of ["success", "error", "requeue", "requeue_after"])
      expect(await registry.getSingleMetricAsString("controller_runtime_reconcile_total")).toContain(
        `controller_runtime_reconcile_total{controller="test",result="${result}"} 0`,
      );
    const ac = new AbortController();
    const done = c.run(ac.signal);
    expect(await value(registry, "controller_runtime_max_concurrent_reconciles", controller)).toBe(2);
    c.enqueue("ok");
    await flush();
    expect(await value(registry, "controller_runtime_active_workers", controller)).toBe(1);
    await clock.step(250);
    expect(await value(registry, "controller_runtime_active_workers", controller)).toBe(0);
    for (const key of ["later", "again", "flaky", "doomed"]) c.enqueue(key);
    await flush();
    const total = (result: string) =>
      value(registry, "controller_runtime_reconcile_total", { ...controller, result });
    expect(await total("success")).toBe(1);
    expect(await total("requeue_after")).toBe(1);
    expect(await total("requeue")).toBe(1);
    expect(await total("error")).toBe(2);
    expect(await value(registry, "controller_runtime_reconcile_errors_total", controller)).toBe(2);
    expect(await value(registry, "controller_runtime_terminal_reconcile_errors_total", controller)).toBe(1);
    expect(await value(registry, "controller_runtime_reconcile_time_seconds", controller, "_count")).toBe(5);
    expect(await value(registry, "controller_runtime_reconcile_time_seconds", controller, "_sum")).toBe(0.25);
    // "again" and "flaky" come back with backoff, "later" after its minute, "doomed" never.
    await clock.step(1000);
    // The default limiter's per-item backoff: retries after 5, 10, 20 … 320 ms fit in the second.
    expect(calls.filter((k) => k === "flaky").length).toBe(8);
    expect(calls.filter((k) => k === "again").length).toBe(8);
    await clock.step(600_000);
    expect(calls.filter((k) => k === "doomed").length).toBe(1);
    expect(calls.filter((k) => k === "later").length).toBe(11);
    expect(await value(registry, "controller_runtime_terminal_reconcile_errors_total", controller)).toBe(1);
    expect(await value(registry, "workqueue_retries_total", { name: "test" })).toBeGreaterThan(4);
    ac.abort();
    await done;
  });

  it("lets two controllers share one registry, told apart by their labels", async () => {
    const registry = new Registry();
    const metrics = registerControllerMetrics(registry);
    const clock = new FakeClock();
    const a = new Controller({ name: "a", clock, metrics, reconcile: async () => undefined });
    const b = new Controller({ name: "b", clock, metrics, reconcile: async () => undefined });
    a.enqueue("k1");
    a.enqueue("k2");
    b.enqueue("k1");
    expect(await value(registry, "workqueue_depth", { name: "a" })).toBe(2);
    expect(await value(registry, "workqueue_depth", { name: "b" })).toBe(1);
    expect(() => registerControllerMetrics(registry)).toThrow(/already been registered/);
  });
});
