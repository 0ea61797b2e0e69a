import { type Lease, Node, NodeCondition, type Pod, PodCondition, Taint } from "@tskube/api";
import type { ResourceClient } from "@tskube/client";
import {
  type Clock,
  type Controller,
  type EventRecorder,
  type Informer,
  newControllerManagedBy,
  sleep,
} from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { isConflict, isNotFound } from "@tskube/machinery";
import type { ControllerContext, RunnableController } from "../context.js";
import { NODE_NAME_INDEX } from "../indexers.js";
import { rfc3339 } from "../pod-util.js";
import {
  CONDITION_TAINT_KEYS,
  condition,
  conditionTaints,
  sameTaint,
  TAINT_NODE_NOT_READY,
  TAINT_NODE_UNREACHABLE,
  type TaintLike,
} from "./taints.js";
import { TokenBucket } from "./token-bucket.js";

/** kube-controller-manager's defaults for the node lifecycle controller (Kubernetes 1.32+). */
export const NODE_LIFECYCLE_DEFAULTS = {
  nodeMonitorPeriodMs: 5_000,
  /** 50 s since Kubernetes 1.32 (40 s before): five missed 10 s kubelet heartbeats. */
  nodeMonitorGracePeriodMs: 50_000,
  nodeStartupGracePeriodMs: 60_000,
  nodeEvictionRate: 0.1,
  secondaryNodeEvictionRate: 0.01,
  unhealthyZoneThreshold: 0.55,
  largeClusterSizeThreshold: 50,
};

export type NodeLifecycleOptions = typeof NODE_LIFECYCLE_DEFAULTS & {
  workers?: number;
  /** How often queued NoExecute taints are tried (Kubernetes' nodeEvictionPeriod, 100 ms). */
  nodeEvictionPeriodMs?: number;
};

export const NODE_LEASE_NAMESPACE = "kube-node-lease";
const NODE_EVICTION_PERIOD_MS = 100;
/** Kubernetes' nodeUpdateWorkerSize: nodes whose health is checked in parallel. */
const NODE_UPDATE_WORKERS = 8;
const ZONE_LABEL = "topology.kubernetes.io/zone";
const REGION_LABEL = "topology.kubernetes.io/region";
/** The conditions the kubelet owns besides Ready, turned Unknown with it (remainingNodeConditionTypes). */
const REMAINING_CONDITIONS = ["MemoryPressure", "DiskPressure", "PIDPressure"];

export type ZoneState = "Initial" | "Normal" | "FullDisruption" | "PartialDisruption";

interface NodeHealth {
  /** Our clock's time when the node last showed a sign of life: never the kubelet's clock. */
  probeTimestamp: number;
  readyTransitionTimestamp: number;
  heartbeat: string;
  leaseRenewTime: number;
  /** Ready status after our last check ("" while it has none). */
  ready: string;
}

/** One zone's queue of nodes waiting for a NoExecute taint (Kubernetes' RateLimitedTimedQueue). */
interface ZoneTainter {
  queue: Set<string>;
  limiter: TokenBucket;
}

const NOT_READY_NO_EXECUTE = { key: TAINT_NODE_NOT_READY, value: "", effect: "NoExecute" };
const UNREACHABLE_NO_EXECUTE = { key: TAINT_NODE_UNREACHABLE, value: "", effect: "NoExecute" };

export function zoneKey(node: Node): string {
  const labels = node.metadata?.labels ?? {};
  const zone = labels[ZONE_LABEL] ?? "";
  const region = labels[REGION_LABEL] ?? "";
  return region || zone ? `${region}:\u0000:${zone}` : "";
}

/**
 * Kubernetes' node lifecycle controller. A node whose kubelet stops renewing its Lease (and
 * posting status) for node-monitor-grace-period gets its conditions set to Unknown; a node that
 * is not Ready gets the NoSchedule taints of TaintNodesByCondition at once and, at
 * --node-eviction-rate nodes a second per zone, the NoExecute taint that makes the taint eviction
 * controller evict its pods. A node that comes back loses both. Zones with many unready nodes
 * taint more slowly, and not at all when every node is unready: then the fault is more likely
 * the control plane's than the nodes'.
 */
export class NodeLifecycleController implements RunnableController {
  readonly controller: Controller;
  readonly nodes: Informer<Node>;
  readonly leases: Informer<Lease>;
  readonly pods: Informer<Pod>;
  private readonly nodeClient: ResourceClient<Node>;
  private readonly podClient: ResourceClient<Pod>;
  private readonly recorder: EventRecorder;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly opts: NodeLifecycleOptions;
  private readonly health = new Map<string, NodeHealth>();
  private readonly tainters = new Map<string, ZoneTainter>();
  readonly zoneStates = new Map<string, ZoneState>();

  constructor(ctx: ControllerContext, opts: Partial<NodeLifecycleOptions> = {}) {
    this.opts = { ...NODE_LIFECYCLE_DEFAULTS, ...opts };
    this.clock = ctx.clock;
    this.log = ctx.log;
    this.nodeClient = ctx.client.resource<Node>("nodes");
    this.podClient = ctx.client.resource<Pod>("pods");
    this.recorder = ctx.recorder("node-controller");
    this.nodes = ctx.informers.informerFor<Node>("nodes");
    this.leases = ctx.informers.informerFor<Lease>("leases", { namespace: NODE_LEASE_NAMESPACE });
    this.pods = ctx.informers.informerFor<Pod>("pods");
    this.controller = newControllerManagedBy(ctx)
      .named("nodelifecycle")
      .for(this.nodes)
      // A renewed Lease is the kubelet's heartbeat; its name is the node's.
      .watches(this.leases, (l) => [l.metadata!.name], { predicates: [{ delete: () => false }] })
      .withOptions({ workers: this.opts.workers ?? NODE_UPDATE_WORKERS })
      .complete((key) => this.sync(key));
  }

  async run(signal: AbortSignal): Promise<void> {
    // Pods are read by the workers and the periodic passes but trigger nothing: synced first.
    this.pods.start(signal);
    await this.pods.waitForSync(signal);
    if (!(await this.controller.waitForCacheSync(signal))) return;
    const every = async (ms: number, fn: () => Promise<void>) => {
      while (!signal.aborted) {
        await sleep(this.clock, ms, signal);
        if (signal.aborted) return;
        await fn().catch((err) =>
          this.log.warn({ controller: "nodelifecycle", err: (err as Error).message }, "periodic pass failed"),
        );
      }
    };
    await Promise.all([
      this.controller.run(signal),
      every(this.opts.nodeMonitorPeriodMs, () => this.handleDisruption()),
      every(this.opts.nodeEvictionPeriodMs ?? NODE_EVICTION_PERIOD_MS, () => this.doNoExecuteTaintingPass()),
    ]);
  }

  /** monitorNodeHealth for one node: check its heartbeat, then keep its taints in step. */
  async sync(name: string): Promise<{ requeueAfterMs: number } | undefined> {
    const cached = this.nodes.lister.get("", name);
    if (!cached) {
      this.health.delete(name);
      for (const t of this.tainters.values()) t.queue.delete(name);
      return undefined;
    }
    const { node, observedReady, currentReady } = await this.tryUpdateNodeHealth(cached);
    const tainted = await this.syncConditionTaints(node);
    if (currentReady) {
      await this.processTaintBaseEviction(tainted, currentReady.status);
      if (observedReady?.status === "True" && currentReady.status !== "True") {
        // Reported once, when this controller (not the kubelet) declares the node unhealthy.
        void this.recorder.event(node, "Normal", "NodeNotReady", `Node ${name} status is now: NodeNotReady`);
        await this.markPodsNotReady(name);
      }
    }
    return { requeueAfterMs: this.opts.nodeMonitorPeriodMs };
  }

  /**
   * tryUpdateNodeHealth: the node's last sign of life is when we last saw its Ready heartbeat or
   * its Lease's renewTime change, timed by our clock so that clock skew between machines cannot
   * make a node look dead or alive. Past the grace period every condition the kubelet owns goes
   * Unknown.
   */
  private async tryUpdateNodeHealth(node: Node): Promise<{
    node: Node;
    observedReady: NodeCondition | undefined;
    currentReady: NodeCondition | undefined;
  }> {
    const name = node.metadata!.name;
    const now = this.clock.now();
    const ready = condition(node, "Ready");
    const lease = this.leases.lister.get(NODE_LEASE_NAMESPACE, name);
    const renew = lease?.spec?.renewTime ? Date.parse(lease.spec.renewTime) : 0;
    let h = this.health.get(name);
    if (!h) {
      h = {
        probeTimestamp: now,
        readyTransitionTimestamp: now,
        heartbeat: ready?.lastHeartbeatTime ?? "",
        leaseRenewTime: renew,
        ready: ready?.status ?? "",
      };
      this.health.set(name, h);
    } else {
      if ((ready?.lastHeartbeatTime ?? "") !== h.heartbeat) {
        h.probeTimestamp = now;
        h.heartbeat = ready?.lastHeartbeatTime ?? "";
      }
      if (renew > h.leaseRenewTime) {
        h.probeTimestamp = now;
        h.leaseRenewTime = renew;
      }
    }
    const grace = ready ? this.opts.nodeMonitorGracePeriodMs : this.opts.nodeStartupGracePeriodMs;
    if (now <= h.probeTimestamp + grace) {
      h.ready = ready?.status ?? "";
      return { node, observedReady: ready, currentReady: ready };
    }
    const at = rfc3339(now);
    const conditions = node.status?.conditions.map((c) => NodeCondition.fromPartial(c)) ?? [];
    let changed = false;
    for (const type of ["Ready", ...REMAINING_CONDITIONS]) {
      const c = conditions.find((x) => x.type === type);
      if (!c) {
        conditions.push(
          NodeCondition.fromPartial({
            type,
            status: "Unknown",
            reason: "NodeStatusNeverUpdated",
            message: "Kubelet never posted node status.",
            lastHeartbeatTime: node.metadata?.creationTimestamp ?? at,
            lastTransitionTime: at,
          }),
        );
        changed = true;
      } else if (c.status !== "Unknown") {
        c.status = "Unknown";
        c.reason = "NodeStatusUnknown";
        c.message = "Kubelet stopped posting node status.";
        c.lastTransitionTime = at;
        changed = true;
      }
    }
    let updated = node;
    if (changed) {
      this.log.info({ node: name, since: rfc3339(h.probeTimestamp) }, "node stopped posting status");
      updated = await this.nodeClient.updateStatus(
        Node.fromPartial({ ...node, status: { ...node.status, conditions } }),
      );
      h.readyTransitionTimestamp = now;
    }
    const currentReady = condition(updated, "Ready");
    h.ready = currentReady?.status ?? "";
    return { node: updated, observedReady: ready, currentReady };
  }

  /** doNoScheduleTaintingPass: the NoSchedule taints follow the conditions at once. */
  private async syncConditionTaints(node: Node): Promise<Node> {
    const want = conditionTaints(node);
    const owned = (t: TaintLike) => t.effect === "NoSchedule" && CONDITION_TAINT_KEYS.includes(t.key);
    const have = (node.spec?.taints ?? []).filter(owned);
    const add = want.filter((w) => !have.some((t) => sameTaint(t, w)));
    const remove = have.filter((t) => !want.some((w) => sameTaint(t, w)));
    return add.length || remove.length ? await this.swapTaints(node, add, remove) : node;
  }

  /**
   * processTaintBaseEviction: a node already carrying one NoExecute taint swaps to the other at
   * once; a new one waits in its zone's rate-limited queue; a Ready node loses both.
   */
  private async processTaintBaseEviction(node: Node, ready: string): Promise<void> {
    const taints = node.spec?.taints ?? [];
    const has = (t: TaintLike) => taints.some((x) => sameTaint(x, t));
    if (ready === "False") {
      if (has(UNREACHABLE_NO_EXECUTE))
        await this.swapTaints(node, [this.noExecute(TAINT_NODE_NOT_READY)], [UNREACHABLE_NO_EXECUTE]);
      else if (!has(NOT_READY_NO_EXECUTE)) this.markNodeForTainting(node);
      return;
    }
    if (ready === "Unknown") {
      if (has(NOT_READY_NO_EXECUTE))
        await this.swapTaints(node, [this.noExecute(TAINT_NODE_UNREACHABLE)], [NOT_READY_NO_EXECUTE]);
      else if (!has(UNREACHABLE_NO_EXECUTE)) this.markNodeForTainting(node);
      return;
    }
    if (ready === "True") await this.markNodeAsReachable(node);
  }

  private noExecute(key: string): Taint {
    return Taint.fromPartial({ key, effect: "NoExecute", timeAdded: rfc3339(this.clock.now()) });
  }

  private tainterFor(zone: string): ZoneTainter {
    let t = this.tainters.get(zone);
    if (!t) {
      t = { queue: new Set(), limiter: new TokenBucket(this.clock, this.opts.nodeEvictionRate) };
      this.tainters.set(zone, t);
      this.zoneStates.set(zone, "Initial");
    }
    return t;
  }

  private markNodeForTainting(node: Node): void {
    this.tainterFor(zoneKey(node)).queue.add(node.metadata!.name);
  }

  private async markNodeAsReachable(node: Node): Promise<void> {
    const name = node.metadata!.name;
    this.tainters.get(zoneKey(node))?.queue.delete(name);
    const taints = node.spec?.taints ?? [];
    const remove = [NOT_READY_NO_EXECUTE, UNREACHABLE_NO_EXECUTE].filter((r) =>
      taints.some((t) => sameTaint(t, r)),
    );
    if (remove.length) {
      await this.swapTaints(node, [], remove);
      this.log.info({ node: name }, "node is ready again; removed its NoExecute taints");
    }
  }

  /**
   * doNoExecuteTaintingPass: each zone's queue gives out taints only as fast as its token bucket
   * allows. A node that became Ready meanwhile just leaves the queue; a failed write stays queued.
   */
  async doNoExecuteTaintingPass(): Promise<void> {
    for (const tainter of this.tainters.values()) {
      for (const name of [...tainter.queue]) {
        const node = this.nodes.lister.get("", name);
        // What our last check found, which the cache may not show yet.
        const ready = this.health.get(name)?.ready ?? condition(node, "Ready")?.status;
        if (!node || (ready !== "False" && ready !== "Unknown")) {
          tainter.queue.delete(name);
          continue;
        }
        if (!tainter.limiter.tryAccept()) break;
        const [add, remove] =
          ready === "False"
            ? [TAINT_NODE_NOT_READY, UNREACHABLE_NO_EXECUTE]
            : [TAINT_NODE_UNREACHABLE, NOT_READY_NO_EXECUTE];
        try {
          await this.swapTaints(node, [this.noExecute(add)], [remove]);
          tainter.queue.delete(name);
          this.log.info({ node: name, taint: add }, "tainted node NoExecute");
        } catch (err) {
          this.log.warn({ node: name, err: (err as Error).message }, "could not taint node; will retry");
        }
      }
    }
  }

  /**
   * handleDisruption: a zone with more than two unready nodes and at least
   * --unhealthy-zone-threshold of them unready is partially disrupted and taints at
   * --secondary-node-eviction-rate (0 in clusters up to --large-cluster-size-threshold nodes); a
   * zone with none ready is fully disrupted. When every zone is, the control plane is the likelier
   * culprit: NoExecute taints come off and tainting stops until some node is ready again.
   */
  async handleDisruption(): Promise<void> {
    const counts = new Map<string, { ready: number; notReady: number }>();
    for (const node of this.nodes.lister.list()) {
      const zone = zoneKey(node);
      this.tainterFor(zone);
      const c = counts.get(zone) ?? { ready: 0, notReady: 0 };
      const ready = this.health.get(node.metadata!.name)?.ready ?? condition(node, "Ready")?.status;
      if (ready === "True") c.ready++;
      else c.notReady++;
      counts.set(zone, c);
    }
    const newStates = new Map<string, ZoneState>();
    for (const [zone, c] of counts) newStates.set(zone, this.computeZoneState(c.ready, c.notReady));
    const all = (m: Map<string, ZoneState>) =>
      m.size > 0 && [...m.values()].every((s) => s === "FullDisruption");
    const allAreFullyDisrupted = all(newStates);
    const allWasFullyDisrupted = all(this.zoneStates);
    if (allAreFullyDisrupted && !allWasFullyDisrupted) {
      this.log.warn("every node is not ready: entering master disruption mode, evictions stop");
      for (const node of this.nodes.lister.list()) await this.markNodeAsReachable(node);
      for (const zone of this.zoneStates.keys()) {
        this.tainters.get(zone)!.limiter = new TokenBucket(this.clock, 0);
        this.zoneStates.set(zone, "FullDisruption");
      }
      return;
    }
    if (!allAreFullyDisrupted && allWasFullyDisrupted) {
      this.log.info("some node is ready again: leaving master disruption mode");
      // Nodes get a fresh grace period: their kubelets may have been cut off from us, not dead.
      const now = this.clock.now();
      for (const h of this.health.values()) {
        h.probeTimestamp = now;
        h.readyTransitionTimestamp = now;
      }
    }
    for (const [zone, state] of newStates) {
      if (this.zoneStates.get(zone) === state && !allWasFullyDisrupted) continue;
      const size = counts.get(zone)!.ready + counts.get(zone)!.notReady;
      this.tainters.get(zone)!.limiter = new TokenBucket(this.clock, this.zoneRate(state, size));
      this.zoneStates.set(zone, state);
      this.log.info({ zone, state }, "zone state changed");
    }
  }

  private computeZoneState(ready: number, notReady: number): ZoneState {
    if (ready === 0 && notReady > 0) return "FullDisruption";
    if (notReady > 2 && notReady / (ready + notReady) >= this.opts.unhealthyZoneThreshold)
      return "PartialDisruption";
    return "Normal";
  }

  /** setLimiterInZone: ReducedQPSFunc for partial disruption, HealthyQPSFunc otherwise. */
  private zoneRate(state: ZoneState, size: number): number {
    if (state === "PartialDisruption")
      return size <= this.opts.largeClusterSizeThreshold ? 0 : this.opts.secondaryNodeEvictionRate;
    return this.opts.nodeEvictionRate;
  }

  /** MarkPodsNotReady: the pods of a node that stopped reporting are not ready either. */
  private async markPodsNotReady(nodeName: string): Promise<void> {
    const at = rfc3339(this.clock.now());
    let failed: unknown;
    for (const pod of this.pods.store.byIndex(NODE_NAME_INDEX, nodeName)) {
      const c = pod.status?.conditions.find((x) => x.type === "Ready");
      if (!c || c.status === "False") continue;
      const conditions = pod.status!.conditions.map((x) =>
        x.type === "Ready" ? PodCondition.fromPartial({ ...x, status: "False", lastTransitionTime: at }) : x,
      );
      try {
        await this.podClient.updateStatus({ ...pod, status: { ...pod.status!, conditions } });
        void this.recorder.event(pod, "Warning", "NodeNotReady", "Node is not ready");
      } catch (err) {
        if (!isNotFound(err)) failed ??= err;
      }
    }
    if (failed) throw failed;
  }

  /**
   * SwapNodeControllerTaint: adds and removes taints on the node's spec, re-reading the node after
   * a conflict (the kubelet writes its status all the time). Returns the node as written.
   */
  private async swapTaints(start: Node, add: Taint[], remove: TaintLike[]): Promise<Node> {
    const name = start.metadata!.name;
    let node = start;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (attempt > 0) node = await this.nodeClient.get(name);
      const current = node.spec?.taints ?? [];
      const kept = current.filter((t) => !remove.some((r) => sameTaint(t, r)));
      const next = [...kept, ...add.filter((a) => !kept.some((t) => sameTaint(t, a)))];
      if (next.length === current.length && next.every((t, i) => sameTaint(t, current[i]!))) return node;
      try {
        return await this.nodeClient.update(
          Node.fromPartial({ ...node, spec: { ...node.spec, taints: next } }),
        );
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
    throw new Error(`could not update the taints of node ${name}: too many conflicts`);
  }

  /** For tests: the nodes waiting in a zone's taint queue. */
  queued(zone = ""): string[] {
    return [...(this.tainters.get(zone)?.queue ?? [])];
  }
}
