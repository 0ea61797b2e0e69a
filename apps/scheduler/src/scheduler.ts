import { type Node, objectKey, type Pod, PodCondition, PodStatus } from "@tskube/api";
import type { Client } from "@tskube/client";
import { type Clock, type EventRecorder, Informer, realClock } from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { isConflict, isNotFound } from "@tskube/machinery";
import type { Counter, Histogram } from "prom-client";
import { newSnapshot, SchedulerCache } from "./cache/cache.js";
import { isTerminal } from "./framework/snapshot.js";
import type { FilterPlugin, ScorePlugin } from "./framework/types.js";
import { SchedulingQueue } from "./queue.js";
import { scheduleOne } from "./schedule-one.js";

export interface SchedulerOptions {
  client: Client;
  schedulerName: string;
  recorder: EventRecorder;
  log: Logger;
  filters: readonly FilterPlugin[];
  scores: readonly ScorePlugin[];
  initialBackoffMs: number;
  maxBackoffMs: number;
  /**
   * Bindings written concurrently; more wait, so a slow apiserver slows scheduling instead of
   * piling up. Throughput is at most this many over the binding write's latency.
   */
  maxBindingsInFlight?: number;
  /** Share of nodes to find feasible before scoring; 0 is Kubernetes' adaptive default. */
  percentageOfNodesToScore?: number;
  /** See SchedulerCacheOptions.assumedPodTtlMs (0: assumed pods wait for confirmation). */
  assumedPodTtlMs?: number;
  /** How often expired assumed pods are dropped (Kubernetes' cleanAssumedPeriod, 1 s). */
  cleanAssumedPeriodMs?: number;
  clock?: Clock;
  metrics?: {
    attempts: Counter<"result">;
    latency: Histogram<"result">;
    /** Per extension point; the scheduler observes Bind (the binding write), labelled Success or Error. */
    extensionPoint?: Histogram<"extension_point" | "status">;
  };
}

const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

export const DEFAULT_MAX_BINDINGS_IN_FLIGHT = 256;

/** A bound pod that still holds its node's resources. */
const countsOnNode = (p: Pod) => !!p.spec?.nodeName && !isTerminal(p);

/**
 * The scheduler loop: informers on pods and nodes feed the scheduler cache and a queue of pods
 * waiting for a node; one decision at a time (filter → score → bind) on a snapshot the cache
 * updates incrementally. A placed pod is "assumed" on its node until the informer shows the
 * binding, so the next decision already counts it.
 */
export class Scheduler {
  private readonly pods: Informer<Pod>;
  private readonly nodes: Informer<Node>;
  private readonly queue: SchedulingQueue;
  private readonly cache: SchedulerCache;
  private readonly snapshot = newSnapshot();
  private readonly binding = new Set<Promise<void>>();
  private readonly clock: Clock;
  private tie = 0;
  /** Where the next attempt starts filtering, so every node gets its turn (nextStartNodeIndex). */
  private nextStartNodeIndex = 0;

  constructor(private readonly opts: SchedulerOptions) {
    this.clock = opts.clock ?? realClock;
    this.cache = new SchedulerCache({ assumedPodTtlMs: opts.assumedPodTtlMs ?? 0 });
    this.pods = new Informer(opts.client.resource<Pod>("pods"), { log: opts.log });
    this.nodes = new Informer(opts.client.resource<Node>("nodes"), { log: opts.log });
    this.queue = new SchedulingQueue((a, b) => this.order(a, b), {
      clock: this.clock,
      initialBackoffMs: opts.initialBackoffMs,
      maxBackoffMs: opts.maxBackoffMs,
    });
    this.pods.addEventHandler({
      onAdd: (p) => {
        if (countsOnNode(p)) this.cache.addPod(p);
        this.onPod(p);
      },
      onUpdate: (old, p) => {
        // Unbound → bound confirms an assumed pod; bound → finished frees its node's resources.
        if (countsOnNode(p)) this.cache.updatePod(old, p);
        else if (this.cache.getPod(objectKey(p))) this.cache.removePod(p);
        this.onPod(p);
        if (!isTerminal(old) && isTerminal(p)) this.queue.moveAllToActiveOrBackoff();
      },
      onDelete: (p) => {
        this.cache.removePod(p);
        this.queue.delete(objectKey(p));
        if (p.spec?.nodeName) this.queue.moveAllToActiveOrBackoff();
      },
    });
    this.nodes.addEventHandler({
      onAdd: (n) => {
        this.cache.addNode(n);
        this.queue.moveAllToActiveOrBackoff();
      },
      onUpdate: (old, n) => {
        this.cache.updateNode(old, n);
        this.queue.moveAllToActiveOrBackoff();
      },
      onDelete: (n) => this.cache.removeNode(n),
    });
  }

  /** Higher priority first, then the oldest. */
  private order(a: string, b: string): number {
    const pa = this.pods.store.get(a);
    const pb = this.pods.store.get(b);
    const prio = (pb?.spec?.priority ?? 0) - (pa?.spec?.priority ?? 0);
    if (prio !== 0) return prio;
    const ta = pa?.metadata?.creationTimestamp ?? "";
    const tb = pb?.metadata?.creationTimestamp ?? "";
    return ta < tb ? -1 : ta > tb ? 1 : a < b ? -1 : 1;
  }

  private isPendingForUs(p: Pod): boolean {
    const phase = p.status?.phase;
    return (
      !p.spec?.nodeName &&
      (p.spec?.schedulerName || "default-scheduler") === this.opts.schedulerName &&
      !p.metadata?.deletionTimestamp &&
      phase !== "Succeeded" &&
      phase !== "Failed"
    );
  }

  private onPod(p: Pod): void {
    const key = objectKey(p);
    if (this.isPendingForUs(p)) this.queue.add(key);
    else this.queue.delete(key);
  }

  async run(signal: AbortSignal): Promise<void> {
    const informers = [this.pods.run(signal), this.nodes.run(signal)];
    await Promise.all([this.pods.waitForSync(signal), this.nodes.waitForSync(signal)]);
    // Stopped while the caches synced: the signal has fired already and will not fire again.
    if (signal.aborted) this.queue.close();
    else signal.addEventListener("abort", () => this.queue.close(), { once: true });
    if ((this.opts.assumedPodTtlMs ?? 0) > 0) this.cleanAssumedPods(signal);
    this.opts.log.info("scheduler caches synced; scheduling");
    for (;;) {
      const key = await this.queue.pop();
      if (key === undefined) break;
      const outcome = await this.attempt(key).catch((err: unknown) => {
        this.opts.log.error({ err, pod: key }, "scheduling attempt failed");
        return "error" as const;
      });
      this.queue.done(key, outcome);
    }
    await Promise.all(informers);
  }

  /** Drops assumed pods never confirmed within the TTL after their binding, every cleanAssumedPeriod. */
  private cleanAssumedPods(signal: AbortSignal): void {
    const period = this.opts.cleanAssumedPeriodMs ?? 1000;
    const tick = () => {
      if (signal.aborted) return;
      for (const key of this.cache.cleanupExpiredAssumedPods(this.clock.now()))
        this.opts.log.warn({ pod: key }, "assumed pod expired before its binding was observed");
      timer = this.clock.setTimeout(tick, period);
    };
    let timer = this.clock.setTimeout(tick, period);
    signal.addEventListener("abort", () => this.clock.clearTimeout(timer), { once: true });
  }

  private async attempt(key: string): Promise<"scheduled" | "unschedulable" | "error"> {
    const pod = this.pods.store.get(key);
    if (!pod || !this.isPendingForUs(pod) || this.cache.isAssumed(key)) return "scheduled";
    const start = this.clock.now();
    this.cache.updateSnapshot(this.snapshot);
    const result = scheduleOne(pod, this.snapshot, this.opts.filters, this.opts.scores, {
      tieBreak: this.tie++,
      startIndex: this.nextStartNodeIndex,
      percentageOfNodesToScore: this.opts.percentageOfNodesToScore ?? 0,
    });
    const numNodes = this.snapshot.nodes.length;
    this.nextStartNodeIndex = numNodes ? (this.nextStartNodeIndex + result.processed) % numNodes : 0;
    const log = this.opts.log.child({ pod: key });
    if (result.node === undefined) {
      log.info({ reason: result.message }, "pod is unschedulable");
      this.observe("unschedulable", start);
      await this.opts.recorder.event(pod, "Warning", "FailedScheduling", result.message);
      await this.setScheduledCondition(pod, "False", "Unschedulable", result.message);
      return "unschedulable";
    }
    // Assume, then bind in the background (Kubernetes' binding cycle): the next decision already
    // counts this pod on its node, and binding latency does not limit throughput.
    // A shallow copy is enough: informer objects are never mutated, only nodeName differs.
    const bound: Pod = { ...pod, spec: { ...pod.spec!, nodeName: result.node } };
    this.cache.assumePod(bound);
    this.observe("scheduled", start);
    const maxInFlight = this.opts.maxBindingsInFlight ?? DEFAULT_MAX_BINDINGS_IN_FLIGHT;
    while (this.binding.size >= maxInFlight) await Promise.race(this.binding);
    const job = this.bind(key, pod, bound, result.node, result.feasible).finally(() =>
      this.binding.delete(job),
    );
    this.binding.add(job);
    return "scheduled";
  }

  private async bind(key: string, pod: Pod, bound: Pod, node: string, feasible: number): Promise<void> {
    const log = this.opts.log.child({ pod: key });
    const start = this.clock.now();
    const observe = (status: string) =>
      this.opts.metrics?.extensionPoint?.observe(
        { extension_point: "Bind", status },
        (this.clock.now() - start) / 1000,
      );
    try {
      await this.opts.client.bind({
        namespace: pod.metadata!.namespace,
        name: pod.metadata!.name,
        uid: pod.metadata!.uid,
        node,
      });
      observe("Success");
      this.cache.finishBinding(bound, this.clock.now());
    } catch (err) {
      observe("Error");
      // Someone changed or deleted the pod first: forget the assumption and try again.
      if (this.cache.isAssumed(key)) this.cache.forgetPod(bound);
      if (!isConflict(err) && !isNotFound(err)) log.warn({ err: (err as Error).message }, "binding failed");
      // After this attempt is marked done (the queue ignores keys still in flight).
      if (!isNotFound(err)) setImmediate(() => this.queue.add(key));
      return;
    }
    log.info({ node, feasible }, "bound pod");
    void this.opts.recorder.event(
      pod,
      "Normal",
      "Scheduled",
      `Successfully assigned ${pod.metadata!.namespace}/${pod.metadata!.name} to ${node}`,
    );
  }

  private observe(result: string, start: number): void {
    this.opts.metrics?.attempts.inc({ result });
    this.opts.metrics?.latency.observe({ result }, (this.clock.now() - start) / 1000);
  }

  /** PodScheduled in status, as the scheduler reports it; best effort (the kubelet owns the rest). */
  private async setScheduledCondition(
    pod: Pod,
    status: string,
    reason: string,
    message: string,
  ): Promise<void> {
    const pods = this.opts.client.resource<Pod>("pods");
    for (let i = 0; i < 3; i++) {
      try {
        const cur = await pods.get(pod.metadata!.name, { namespace: pod.metadata!.namespace });
        const st = cur.status ?? PodStatus.fromPartial({ phase: "Pending" });
        const existing = st.conditions.find((c) => c.type === "PodScheduled");
        if (
          existing &&
          existing.status === status &&
          existing.reason === reason &&
          existing.message === message
        )
          return;
        const cond = PodCondition.fromPartial({
          type: "PodScheduled",
          status,
          reason,
          message,
          lastTransitionTime: rfc3339(this.clock.now()),
        });
        st.conditions = [...st.conditions.filter((c) => c.type !== "PodScheduled"), cond];
        st.phase ||= "Pending";
        await pods.updateStatus({ ...cur, status: st });
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isConflict(err)) {
          this.opts.log.warn({ err: (err as Error).message }, "could not update PodScheduled");
          return;
        }
      }
    }
  }
}
