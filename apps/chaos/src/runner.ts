import {
  type Deployment,
  EXPERIMENT_DEFAULT_DURATION_SECONDS,
  EXPERIMENT_DEFAULTS,
  EXPERIMENT_KILL_ACTIONS,
  EXPERIMENT_LIMITS,
  type Experiment,
  type ExperimentAction,
  ExperimentStatus,
  KINDS,
  type KubeObject,
  type Lease,
  Namespace,
  type Node,
  type Pod,
  type ReplicaSet,
} from "@tskube/api";
import type { Client } from "@tskube/client";
import { type Clock, type Informer, sleep } from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { isAlreadyExists } from "@tskube/machinery";
import type { Executor, Target } from "./executors/types.js";
import {
  desiredReplicas,
  etcdMembersAgree,
  type InvariantResult,
  noAcknowledgedWriteLost,
  noDuplicatePods,
  noObjectLost,
  noWriteDuplicated,
  type SnapshotEntry,
  type TargetSpec,
  targetMet,
} from "./invariants.js";
import { KillWatch, type RecoveryKind } from "./observer.js";
import {
  controllerOf,
  type DuplicateSample,
  duplicatePods,
  isActive,
  isNodeReady,
  isPodReady,
  nodeAddress,
} from "./pods.js";
import { type RequestRecord, RequestStream } from "./requests.js";
import { longestGap, percentile, seconds } from "./stats.js";
import { Timeline } from "./timeline.js";
import { type ResolvedWorkload, resolveWorkload } from "./workload.js";
import { EXPERIMENT_LABEL, WriteStream } from "./writes.js";

export interface Informers {
  pods: Informer<Pod>;
  nodes: Informer<Node>;
  leases: Informer<Lease>;
  deployments: Informer<Deployment>;
  replicasets: Informer<ReplicaSet>;
}

export interface RunnerOptions {
  workloadImage: string;
  /** The write stream's client: a short deadline, so a stalled write counts as rejected in time. */
  writeClient?: Client;
  writeTimeoutMs: number;
  /** Where the write stream's ConfigMaps go (created if missing, emptied after each run). */
  writesNamespace: string;
  writesPerSecond: number;
  requestTimeoutMs: number;
  /** How long to wait for the cluster to settle before a kill and after the window. */
  settleTimeoutMs: number;
  /** The request stream runs this long before the first kill, for a baseline. */
  leadMs: number;
  schedulerLease: string;
  controllerManagerLease: string;
  /**
   * Where the request stream reaches node ports: empty = each Ready node's InternalIP (compose);
   * local-up's kube-proxies share the host and listen on 127.0.0.1.
   */
  nodePortAddress: string;
  /** How often the request/replica sampler and the duplicate-pod sampler look. */
  sampleIntervalMs: number;
}

/** The issue's targets in the fast profile, seconds (apiserver: a success ratio). */
export const TARGETS: Partial<Record<ExperimentAction, { limit: number; what: string }>> = {
  PodKill: { limit: 2, what: "pod container killed → running again" },
  KubeletKill: { limit: 15, what: "kubelet killed → replacement pods Ready elsewhere" },
  NodeKill: { limit: 15, what: "node killed → replacement pods Ready elsewhere" },
  SchedulerLeaderKill: { limit: 5, what: "scheduler leader killed → standby holds the lease" },
  ControllerManagerLeaderKill: {
    limit: 5,
    what: "controller-manager leader killed → standby holds the lease",
  },
};
export const APISERVER_SUCCESS_TARGET = 0.99;
const WRITE_ACTIONS: readonly string[] = ["ApiserverKill", "EtcdMemberKill", "EtcdLeaderKill", "RandomKill"];

interface KillRecord {
  action: string;
  target: string;
  killAt: number;
  watch: KillWatch;
  /** The node taken away (its pods may legitimately go). */
  node?: string;
  /** Resolves once the target is back (held kills: after downSeconds and bringBack). */
  restored: Promise<number | undefined>;
}

class ExperimentError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const random = <T>(items: readonly T[]): T | undefined => items[Math.floor(Math.random() * items.length)];

/**
 * Runs one Experiment: the steady workload and its request stream, the kill(s), the observation
 * window, the settle, and the invariants. The informers are shared with the controller; their
 * events go to the watch of the kill in progress.
 */
export class Runner {
  private watches: KillWatch[] = [];

  constructor(
    private readonly client: Client,
    private readonly executor: Executor,
    private readonly informers: Informers,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: RunnerOptions,
  ) {
    const pods = () => informers.pods.store.list();
    informers.pods.addEventHandler({
      onAdd: (p) => this.each((w) => w.onPod(p, pods)),
      onUpdate: (_, p) => this.each((w) => w.onPod(p, pods)),
      onDelete: (p) => this.each((w) => w.onPod(p, pods)),
    });
    informers.nodes.addEventHandler({
      onAdd: (n) => this.each((w) => w.onNode(n)),
      onUpdate: (_, n) => this.each((w) => w.onNode(n)),
    });
    informers.leases.addEventHandler({
      onAdd: (l) => this.each((w) => w.onLease(l)),
      onUpdate: (_, l) => this.each((w) => w.onLease(l)),
    });
  }

  private each(fn: (w: KillWatch) => void): void {
    for (const w of this.watches) fn(w);
  }

  async run(exp: Experiment, signal: AbortSignal): Promise<ExperimentStatus> {
    const spec = exp.spec!;
    const action = spec.action as ExperimentAction;
    const name = exp.metadata?.name ?? "";
    const log = this.log.child({ experiment: `${exp.metadata?.namespace}/${name}`, action });
    const duration = (spec.durationSeconds ?? EXPERIMENT_DEFAULT_DURATION_SECONDS[action] ?? 30) * 1000;
    const down = (spec.downSeconds ?? EXPERIMENT_DEFAULTS.downSeconds) * 1000;
    const rps = spec.requestsPerSecond ?? EXPERIMENT_DEFAULTS.requestsPerSecond;
    const timeline = new Timeline(EXPERIMENT_LIMITS.timeline);
    const startedAt = this.clock.now();

    const workload = await resolveWorkload(this.client, spec.workload, this.opts.workloadImage);
    await this.settle(workload, signal, "before the kill");
    const before = await this.snapshot();
    log.info(
      { workload: workload.deployment, objects: before.length },
      "cluster settled; starting the request stream",
    );

    const requests = new RequestStream({
      requestsPerSecond: rps,
      timeoutMs: this.opts.requestTimeoutMs,
      clock: this.clock,
      endpoints: () =>
        this.informers.nodes.store
          .list()
          .filter(isNodeReady)
          .map((n) => ({ host: this.opts.nodePortAddress || nodeAddress(n), port: workload.nodePort })),
    });
    let writes: WriteStream | undefined;
    if (WRITE_ACTIONS.includes(action)) {
      await this.ensureNamespace(this.opts.writesNamespace);
      writes = new WriteStream({
        client: this.opts.writeClient ?? this.client,
        namespace: this.opts.writesNamespace,
        experiment: name,
        writesPerSecond: this.opts.writesPerSecond,
        maxInFlight: 10,
        clock: this.clock,
      });
    }
    const samples: { at: number; ready: number }[] = [];
    const duplicates: (DuplicateSample & { at: number })[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const pods = this.informers.pods.store.list();
        const at = this.clock.now();
        samples.push({ at, ready: this.readyPods(workload, pods) });
        for (const d of duplicatePods(
          this.informers.replicasets.store.list(),
          pods,
          this.informers.deployments.store.list(),
        ))
          duplicates.push({ ...d, at });
        await sleep(this.clock, this.opts.sampleIntervalMs, signal);
        if (signal.aborted) return;
      }
    })();

    requests.start();
    writes?.start();
    await sleep(this.clock, this.opts.leadMs, signal);
    // A stream that fails before anything was killed measures the setup, not the kill.
    const baseline = requests.records.filter((r) => r.at < this.clock.now());
    if (baseline.length > 0 && !baseline.some((r) => r.ok)) {
      sampling = false;
      await Promise.all([requests.stop(), writes?.stop(), sampler]);
      const where = [...new Set(baseline.map((r) => r.endpoint))].join(", ") || "no Ready node";
      throw new ExperimentError(
        "WorkloadUnreachable",
        `none of ${baseline.length} requests to the workload's node port (${where}) succeeded before the kill; nothing was killed`,
      );
    }

    const kills: KillRecord[] = [];
    let failure: ExperimentError | undefined;
    try {
      if (action === "RandomKill") {
        const pool = (spec.actions.length ? spec.actions : EXPERIMENT_KILL_ACTIONS) as ExperimentAction[];
        const interval = (spec.intervalSeconds ?? EXPERIMENT_DEFAULTS.intervalSeconds) * 1000;
        const total = (spec.totalSeconds ?? EXPERIMENT_DEFAULTS.totalSeconds) * 1000;
        const end = this.clock.now() + total;
        while (this.clock.now() < end && !signal.aborted) {
          const tick = this.clock.now();
          const a = random(pool)!;
          let k: KillRecord;
          try {
            k = await this.killOnce(a, "", workload, timeline, Math.min(down, interval), signal);
          } catch (err) {
            // Nothing to hit right now (an etcd member still catching up, no Ready workload pod):
            // the soak skips this tick rather than kill blindly.
            if (!(err instanceof ExperimentError) || !["NoTarget", "NotSettled"].includes(err.reason))
              throw err;
            timeline.add(this.clock.now(), "Skipped", `${a}: ${err.message}`);
            await sleep(this.clock, Math.max(0, tick + interval - this.clock.now()), signal);
            continue;
          }
          kills.push(k);
          log.info({ kill: a, target: k.target }, "random kill");
          // One kill at a time: the next waits until this one has healed (or the interval is up
          // and the target is back), so the soak never takes quorum or both replicas away.
          await Promise.race([this.waitRecovered(k, signal), sleep(this.clock, interval, signal)]);
          await k.restored;
          await this.waitRecovered(k, signal, this.opts.settleTimeoutMs);
          const wait = tick + interval - this.clock.now();
          if (wait > 0) await sleep(this.clock, wait, signal);
        }
        const last = kills.at(-1);
        await sleep(this.clock, Math.max(0, (last?.killAt ?? 0) + duration - this.clock.now()), signal);
      } else {
        const k = await this.killOnce(action, spec.target, workload, timeline, down, signal);
        kills.push(k);
        log.info({ target: k.target }, "killed");
        await k.restored;
        await sleep(this.clock, Math.max(0, k.killAt + duration - this.clock.now()), signal);
      }
    } catch (err) {
      failure =
        err instanceof ExperimentError ? err : new ExperimentError("ActionFailed", (err as Error).message);
      log.warn({ err }, "experiment could not run");
    } finally {
      sampling = false;
      await requests.stop();
      await writes?.stop();
      await sampler;
      // A failed action must not leave anything held down or paused.
      for (const k of kills) await k.restored.catch(() => undefined);
    }

    const windowEnd = this.clock.now();
    const settled = await this.settle(workload, signal, "after the window").then(
      () => undefined,
      (err: Error) => err.message,
    );
    timeline.add(this.clock.now(), "Settled", settled ?? "every Deployment at its desired ready replicas");
    const killAt = kills[0]?.killAt ?? windowEnd;

    // Invariants.
    const invariants: InvariantResult[] = [];
    invariants.push(desiredReplicas(this.informers.deployments.store.list()));
    const after = new Set((await this.snapshot()).map((e) => e.uid));
    const taken = new Set(kills.map((k) => k.node).filter((n): n is string => Boolean(n)));
    invariants.push(noObjectLost(before, after, taken));
    invariants.push(noDuplicatePods(duplicates, samples.length));
    invariants.push(await this.etcdAgree(signal));
    let lostWrites: string[] = [];
    if (writes) {
      const stored = (
        await this.client
          .resource("configmaps")
          .listAll({ namespace: this.opts.writesNamespace, labelSelector: `${EXPERIMENT_LABEL}=${name}` })
      ).items;
      lostWrites = writes.lost(new Set(stored.map((o) => o.metadata?.name ?? "")));
      invariants.push(noAcknowledgedWriteLost(writes.acknowledged.size, lostWrites));
      invariants.push(
        noWriteDuplicated(writes.acknowledged.size, writes.maybeApplied.size, writes.duplicated(stored)),
      );
      await this.client
        .resource("configmaps")
        .deleteCollection({
          namespace: this.opts.writesNamespace,
          labelSelector: `${EXPERIMENT_LABEL}=${name}`,
        })
        .catch((err) => log.warn({ err }, "could not delete the write stream's ConfigMaps"));
    }

    // Figures.
    const recs = requests.records.filter((r) => r.at >= killAt && r.at <= windowEnd);
    const ok = recs.filter((r) => r.ok);
    const successRatio = recs.length ? ok.length / recs.length : 0;
    const first = kills[0];
    const figures: { detectionSeconds?: number; recoverySeconds?: number; target?: number } = {};
    if (first && action !== "RandomKill") {
      if (first.watch.detectedAt !== undefined)
        figures.detectionSeconds = seconds(first.watch.detectedAt - killAt);
      const rec = await this.recoveryOf(first, writes, windowEnd);
      if (rec !== undefined) figures.recoverySeconds = seconds(rec - killAt);
      const t = TARGETS[action];
      figures.target = t?.limit ?? 0;
      if (t)
        invariants.push(
          targetMet({
            what: t.what,
            value: figures.recoverySeconds,
            limit: t.limit,
            compare: "atMost",
            unit: "s",
          }),
        );
    }
    if (action === "ApiserverKill") {
      const t: TargetSpec = {
        what: "requests succeeding while an apiserver is down",
        value: recs.length ? successRatio : undefined,
        limit: APISERVER_SUCCESS_TARGET,
        compare: "atLeast",
        unit: "%",
      };
      invariants.push(targetMet(t));
    }
    if ((action === "EtcdMemberKill" || action === "EtcdLeaderKill") && writes) {
      const acceptedAfter = [...writes.acknowledged.values()].filter((t) => t > killAt).length;
      const gap = longestGap([...writes.acknowledged.values()], killAt, windowEnd);
      invariants.push({
        name: "TargetMet",
        ok: acceptedAfter > 0 && lostWrites.length === 0,
        message: `${acceptedAfter} writes accepted after the kill (longest gap ${seconds(gap)}s), ${lostWrites.length} acknowledged writes lost`,
      });
    }
    if (failure) invariants.push({ name: "ActionRan", ok: false, message: failure.message });

    const kept = invariants.slice(0, EXPERIMENT_LIMITS.invariants);
    const passed = kept.every((i) => i.ok);
    const statusKills = [];
    if (action === "RandomKill") {
      for (const [i, k] of kills.entries()) {
        // Each kill's own stretch: a write stall after the next kill is that kill's.
        const rec = await this.recoveryOf(k, writes, kills[i + 1]?.killAt ?? windowEnd);
        statusKills.push({
          time: new Date(k.killAt).toISOString(),
          action: k.action,
          target: k.target,
          ...(rec !== undefined ? { recoverySeconds: seconds(rec - k.killAt) } : {}),
        });
      }
    }
    const broken = kept.filter((i) => !i.ok);
    const status = ExperimentStatus.fromPartial({
      phase: passed ? "Succeeded" : "Failed",
      reason: failure ? failure.reason : passed ? "Passed" : "InvariantBroken",
      message: failure
        ? failure.message
        : passed
          ? `${kills.length} kill(s); every invariant held`
          : broken.map((i) => `${i.name}: ${i.message}`).join("; "),
      startTime: new Date(startedAt).toISOString(),
      completionTime: new Date(this.clock.now()).toISOString(),
      observedGeneration: exp.metadata?.generation ?? 0,
      timeline: timeline.toStatus(killAt),
      figures,
      requests: {
        total: recs.length,
        succeeded: ok.length,
        failed: recs.length - ok.length,
        successRatio,
        p50Ms: percentile(
          ok.map((r) => r.latencyMs),
          50,
        ),
        p99Ms: percentile(
          ok.map((r) => r.latencyMs),
          99,
        ),
      },
      ...(writes
        ? {
            writes: {
              acknowledged: writes.acknowledged.size,
              lost: lostWrites.length,
              rejected: writes.rejected,
            },
          }
        : {}),
      invariants: kept,
      verdict: passed ? "Passed" : "Failed",
      samples: this.bucket(samples, requests.records, killAt).slice(0, EXPERIMENT_LIMITS.samples),
      kills: statusKills.slice(0, EXPERIMENT_LIMITS.kills),
    });
    this.watches = [];
    if (writes?.errors.size) log.info({ errors: Object.fromEntries(writes.errors) }, "rejected writes");
    const failed = requests.records.filter((r) => !r.ok);
    if (failed.length) {
      const tally = (rs: RequestRecord[]) => {
        const out: Record<string, number> = {};
        for (const r of rs) {
          const why = `${r.error} ${r.endpoint}`;
          out[why] = (out[why] ?? 0) + 1;
        }
        return out;
      };
      log.info(
        {
          beforeKill: tally(failed.filter((r) => r.at < killAt)),
          afterKill: tally(failed.filter((r) => r.at >= killAt)),
        },
        "failed requests",
      );
    }
    return status;
  }

  /** One second per sample: ready replicas then, requests answered in that second. */
  private bucket(
    samples: { at: number; ready: number }[],
    records: { at: number; ok: boolean }[],
    killAt: number,
  ) {
    return samples.map((s, i) => {
      const end = samples[i + 1]?.at ?? s.at + this.opts.sampleIntervalMs;
      const inside = records.filter((r) => r.at >= s.at && r.at < end);
      const okCount = inside.filter((r) => r.ok).length;
      return {
        offsetSeconds: seconds(s.at - killAt),
        readyReplicas: s.ready,
        requestsOk: okCount,
        requestsFailed: inside.length - okCount,
      };
    });
  }

  private readyPods(w: ResolvedWorkload, pods: readonly Pod[]): number {
    return pods.filter(
      (p) =>
        p.metadata?.namespace === w.namespace &&
        w.selector.matches(p.metadata?.labels) &&
        isActive(p) &&
        isPodReady(p),
    ).length;
  }

  /** The recovery moment of a kill: its watch's, or for crash-and-restart targets the restart. */
  private async recoveryOf(
    k: KillRecord,
    writes: WriteStream | undefined,
    windowEnd: number,
  ): Promise<number | undefined> {
    if (k.watch.recoveredAt !== undefined) return k.watch.recoveredAt;
    if (k.watch.spec.recovery !== "none") return undefined;
    if ((k.action === "EtcdMemberKill" || k.action === "EtcdLeaderKill") && writes) {
      // Writes are accepted again at the end of the longest stretch without an acknowledgement
      // after the kill (a stall that never ended is no recovery).
      const times = [...writes.acknowledged.values()]
        .filter((t) => t > k.killAt && t <= windowEnd)
        .sort((a, b) => a - b);
      let prev = k.killAt;
      let gap = -1;
      let end: number | undefined;
      for (const t of times) {
        if (t - prev > gap) {
          gap = t - prev;
          end = t;
        }
        prev = t;
      }
      return end !== undefined && windowEnd - prev <= gap ? end : undefined;
    }
    return await k.restored;
  }

  private async waitRecovered(
    k: KillRecord,
    signal: AbortSignal,
    timeoutMs = Number.POSITIVE_INFINITY,
  ): Promise<void> {
    const deadline = this.clock.now() + timeoutMs;
    while (!signal.aborted && this.clock.now() < deadline) {
      if (k.watch.recoveredAt !== undefined) return;
      if (k.watch.spec.recovery === "none") {
        await k.restored;
        return;
      }
      await sleep(this.clock, 200, signal);
    }
  }

  private async ensureNamespace(name: string): Promise<void> {
    try {
      await this.client
        .resource("namespaces")
        .create(Namespace.fromPartial({ apiVersion: "v1", kind: "Namespace", metadata: { name } }));
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }

  /** Every stored object but events, leases and experiments (which change by design), by uid. */
  private async snapshot(): Promise<SnapshotEntry[]> {
    const out: SnapshotEntry[] = [];
    for (const k of KINDS) {
      if (["Event", "Lease", "Experiment"].includes(k.kind)) continue;
      const items = (await this.client.resource<KubeObject>(k).listAll()).items;
      for (const o of items) {
        const m = o.metadata;
        if (!m?.uid) continue;
        if (k.kind === "ConfigMap" && m.namespace === this.opts.writesNamespace) continue;
        const entry: SnapshotEntry = {
          uid: m.uid,
          kind: k.kind,
          namespace: m.namespace ?? "",
          name: m.name ?? "",
        };
        if (k.kind === "Pod") {
          const p = o as Pod;
          if (p.spec?.nodeName) entry.node = p.spec.nodeName;
          entry.controlled = Boolean(controllerOf(p));
        }
        out.push(entry);
      }
    }
    return out;
  }

  /** Waits until every Deployment is at its ready replicas, every node Ready, every target running. */
  private async settle(w: ResolvedWorkload, signal: AbortSignal, when: string): Promise<void> {
    const deadline = this.clock.now() + this.opts.settleTimeoutMs;
    let problem = "";
    while (!signal.aborted) {
      const deployments = this.informers.deployments.store.list();
      const notReady = deployments.filter(
        (d) =>
          (d.status?.readyReplicas ?? 0) !== (d.spec?.replicas ?? 1) ||
          (d.status?.replicas ?? 0) !== (d.spec?.replicas ?? 1),
      );
      const nodes = this.informers.nodes.store.list().filter((n) => !isNodeReady(n));
      const down = (await this.executor.listTargets()).filter((t) => !t.running || t.paused);
      const ready = this.readyPods(w, this.informers.pods.store.list());
      problem = [
        ...notReady.map(
          (d) =>
            `deployment ${d.metadata?.namespace}/${d.metadata?.name} ${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 1} ready`,
        ),
        ...nodes.map((n) => `node ${n.metadata?.name} not Ready`),
        ...down.map((t) => `${t.name} ${t.paused ? "paused" : "down"}`),
        ...(ready < w.replicas ? [`${ready}/${w.replicas} workload pods ready`] : []),
      ].join(", ");
      if (!problem) return;
      if (this.clock.now() >= deadline) break;
      await sleep(this.clock, 500, signal);
    }
    throw new ExperimentError(
      "NotSettled",
      `cluster did not settle ${when} within ${this.opts.settleTimeoutMs / 1000}s: ${problem}`,
    );
  }

  private async etcdAgree(signal: AbortSignal): Promise<InvariantResult> {
    let last: InvariantResult = { name: "EtcdMembersAgree", ok: false, message: "not checked" };
    // A member that just restarted catches up within moments; compare at a revision all have.
    for (let attempt = 0; attempt < 5 && !signal.aborted; attempt++) {
      const status = await this.executor.etcdStatus();
      const reachable = status.filter((s) => !s.error);
      if (reachable.length === status.length && status.length > 0) {
        const rev = Math.min(...status.map((s) => s.revision));
        last = etcdMembersAgree(await this.executor.etcdStatus(rev));
      } else last = etcdMembersAgree(status);
      if (last.ok) return last;
      await sleep(this.clock, 2000, signal);
    }
    return last;
  }

  private async targetsOf(role: Target["role"]): Promise<Target[]> {
    return (await this.executor.listTargets()).filter((t) => t.role === role && t.running && !t.paused);
  }

  private async one(
    role: Target["role"],
    wanted: string,
    pick: (ts: Target[]) => Target | undefined,
  ): Promise<Target> {
    const ts = await this.targetsOf(role);
    const t = wanted ? ts.find((x) => x.name === wanted || x.node === wanted) : pick(ts);
    if (!t)
      throw new ExperimentError(
        "NoTarget",
        wanted
          ? `spec.target: Invalid value: "${wanted}": no running ${role} of that name (running: ${ts.map((x) => x.name).join(", ") || "none"})`
          : `no running ${role} to pick`,
      );
    return t;
  }

  /** The node holding most workload pods (ties: any), the one whose loss costs the most. */
  private busiestNode(w: ResolvedWorkload, nodes: string[]): string | undefined {
    const count = new Map<string, number>();
    for (const p of this.informers.pods.store.list())
      if (
        p.metadata?.namespace === w.namespace &&
        w.selector.matches(p.metadata?.labels) &&
        isActive(p) &&
        p.spec?.nodeName
      )
        count.set(p.spec.nodeName, (count.get(p.spec.nodeName) ?? 0) + 1);
    const candidates = nodes.filter((n) => (count.get(n) ?? 0) > 0);
    const max = Math.max(0, ...candidates.map((n) => count.get(n) ?? 0));
    return random(candidates.filter((n) => count.get(n) === max));
  }

  private watch(
    kind: RecoveryKind,
    killAt: number,
    w: ResolvedWorkload,
    timeline: Timeline,
    extra: Partial<KillWatch["spec"]> = {},
  ): KillWatch {
    const preexisting = new Set(
      this.informers.pods.store
        .list()
        .filter((p) => p.metadata?.namespace === w.namespace && w.selector.matches(p.metadata?.labels))
        .map((p) => p.metadata?.uid ?? ""),
    );
    const watch = new KillWatch(
      {
        killAt,
        recovery: kind,
        workload: { namespace: w.namespace, selector: w.selector, replicas: w.replicas },
        preexisting,
        ...extra,
      },
      timeline,
      () => this.clock.now(),
    );
    this.watches.push(watch);
    return watch;
  }

  /** Resolves at the first moment the target runs as a new incarnation (a restart after a crash). */
  private async restarted(
    target: string,
    before: string | undefined,
    signal: AbortSignal,
    timeline: Timeline,
  ): Promise<number | undefined> {
    const deadline = this.clock.now() + this.opts.settleTimeoutMs;
    while (!signal.aborted && this.clock.now() < deadline) {
      const now = await this.executor.instance(target).catch(() => undefined);
      if (now && now !== before) {
        const at = this.clock.now();
        timeline.add(at, "Restored", `${target} running again`);
        return at;
      }
      await sleep(this.clock, 100, signal);
    }
    return undefined;
  }

  private async killOnce(
    action: ExperimentAction,
    wanted: string,
    w: ResolvedWorkload,
    timeline: Timeline,
    downMs: number,
    signal: AbortSignal,
  ): Promise<KillRecord> {
    const now = () => this.clock.now();
    switch (action) {
      case "PodKill": {
        const pods = this.informers.pods.store
          .list()
          .filter(
            (p) =>
              p.metadata?.namespace === w.namespace &&
              w.selector.matches(p.metadata?.labels) &&
              isActive(p) &&
              isPodReady(p),
          );
        const pod = wanted ? pods.find((p) => p.metadata?.name === wanted) : random(pods);
        if (!pod)
          throw new ExperimentError(
            "NoTarget",
            wanted
              ? `spec.target: Invalid value: "${wanted}": no Ready workload pod of that name`
              : "no Ready workload pod",
          );
        const name = pod.metadata?.name ?? "";
        const c = (await this.executor.podContainers(pod.spec?.nodeName)).find(
          (x) => x.namespace === w.namespace && x.pod === name && x.running,
        );
        if (!c)
          throw new ExperimentError(
            "NoTarget",
            `no running container of pod ${name} on ${pod.spec?.nodeName}`,
          );
        const restarts = (pod.status?.containerStatuses ?? []).reduce((n, s) => n + (s.restartCount ?? 0), 0);
        const killAt = now();
        const watch = this.watch("restart", killAt, w, timeline, {
          pod: { uid: pod.metadata?.uid ?? "", name, restarts },
        });
        timeline.add(killAt, "Kill", `SIGKILL to container ${c.container} of pod ${name} on ${c.node}`);
        await this.executor.killPodContainer(c.id);
        return { action, target: name, killAt, watch, restored: Promise.resolve(undefined) };
      }
      case "KubeletKill":
      case "NodeKill":
      case "NodePause": {
        const kubelets = await this.targetsOf("kubelet");
        const node =
          wanted ||
          this.busiestNode(
            w,
            kubelets.map((k) => k.node ?? ""),
          );
        const kubelet = kubelets.find((k) => k.node === node || k.name === node);
        if (!kubelet?.node)
          throw new ExperimentError(
            "NoTarget",
            wanted
              ? `spec.target: Invalid value: "${wanted}": no running kubelet of that node`
              : "no node holding workload pods",
          );
        const proxies =
          action === "KubeletKill"
            ? []
            : (await this.targetsOf("kube-proxy")).filter((p) => p.node === kubelet.node);
        const killAt = now();
        const watch = this.watch("replace", killAt, w, timeline, { node: kubelet.node });
        const nodeObj = this.informers.nodes.store.list().find((n) => n.metadata?.name === kubelet.node);
        if (nodeObj) watch.onNode(nodeObj);
        const parts = [kubelet, ...proxies];
        if (action === "NodePause") {
          timeline.add(
            killAt,
            "Kill",
            `pause ${parts.map((p) => p.name).join(", ")} and the pods of ${kubelet.node} for ${downMs / 1000}s`,
          );
          for (const p of parts) await this.executor.pause(p.name);
          await this.executor.pausePods(kubelet.node, true);
        } else {
          timeline.add(
            killAt,
            "Kill",
            `SIGKILL to ${parts.map((p) => p.name).join(", ")}${action === "NodeKill" ? ` and the pods of ${kubelet.node}` : ""}, held down for ${downMs / 1000}s`,
          );
          for (const p of parts) await this.executor.kill(p.name, "hold");
          if (action === "NodeKill") await this.executor.killPods(kubelet.node);
        }
        const restored = (async () => {
          // On shutdown the target comes back at once: nothing is left held down or paused.
          await sleep(this.clock, Math.max(0, killAt + downMs - now()), signal);
          if (action === "NodePause") {
            await this.executor.pausePods(kubelet.node!, false);
            for (const p of parts) await this.executor.unpause(p.name);
          } else for (const p of parts) await this.executor.bringBack(p.name);
          const at = now();
          timeline.add(
            at,
            "Restored",
            `${action === "NodePause" ? "unpaused" : "started"} ${parts.map((p) => p.name).join(", ")}`,
          );
          return at;
        })();
        return { action, target: kubelet.node, killAt, watch, node: kubelet.node, restored };
      }
      case "SchedulerLeaderKill":
      case "ControllerManagerLeaderKill": {
        const role = action === "SchedulerLeaderKill" ? "scheduler" : "controller-manager";
        const key =
          action === "SchedulerLeaderKill" ? this.opts.schedulerLease : this.opts.controllerManagerLease;
        const lease = this.informers.leases.store.get(key);
        const holder = lease?.spec?.holderIdentity ?? "";
        // Kubernetes' identity is "<hostname>_<unique id>"; the hostname is the component's name.
        const leaderName = holder.split("_")[0] ?? "";
        const t = await this.one(role, wanted, (ts) => ts.find((x) => x.name === leaderName));
        if (t.name !== leaderName && !wanted)
          throw new ExperimentError(
            "NoTarget",
            `lease ${key} is held by "${holder}", which is no running ${role}`,
          );
        const before = await this.executor.instance(t.name);
        const killAt = now();
        const watch = this.watch("lease", killAt, w, timeline, { lease: { key, holder } });
        if (lease) watch.onLease(lease);
        timeline.add(killAt, "Kill", `SIGKILL to ${t.name} (holder of ${key}: ${holder})`);
        await this.executor.kill(t.name, "crash");
        return {
          action,
          target: t.name,
          killAt,
          watch,
          restored: this.restarted(t.name, before, signal, timeline),
        };
      }
      case "ApiserverKill": {
        const t = await this.one("apiserver", wanted, random);
        const before = await this.executor.instance(t.name);
        const killAt = now();
        const watch = this.watch("none", killAt, w, timeline);
        timeline.add(killAt, "Kill", `SIGKILL to ${t.name}`);
        await this.executor.kill(t.name, "crash");
        return {
          action,
          target: t.name,
          killAt,
          watch,
          restored: this.restarted(t.name, before, signal, timeline),
        };
      }
      case "EtcdMemberKill":
      case "EtcdLeaderKill": {
        const status = await this.executor.etcdStatus();
        const leader = status.find((s) => s.memberId && s.memberId === s.leaderId);
        const t = await this.one("etcd", wanted, (ts) =>
          action === "EtcdLeaderKill"
            ? ts.find((x) => x.name === leader?.member)
            : (random(ts.filter((x) => x.name !== leader?.member)) ?? random(ts)),
        );
        if (status.some((s) => s.error) && status.length > 1)
          throw new ExperimentError(
            "NotSettled",
            `an etcd member is unhealthy: ${status
              .filter((s) => s.error)
              .map((s) => `${s.member}: ${s.error}`)
              .join("; ")}`,
          );
        const before = await this.executor.instance(t.name);
        const killAt = now();
        const watch = this.watch("none", killAt, w, timeline);
        timeline.add(
          killAt,
          "Kill",
          `SIGKILL to ${t.name}${t.name === leader?.member ? " (the leader)" : ""}`,
        );
        await this.executor.kill(t.name, "crash");
        return {
          action,
          target: t.name,
          killAt,
          watch,
          restored: this.restarted(t.name, before, signal, timeline),
        };
      }
      default:
        throw new ExperimentError("UnsupportedAction", `spec.action: Unsupported value: "${action}"`);
    }
  }
}
