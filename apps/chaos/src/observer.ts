import type { Lease, Node, Pod } from "@tskube/api";
import type { Selector } from "@tskube/machinery";
import { isActive, isNodeReady, isPodReady } from "./pods.js";
import type { Timeline } from "./timeline.js";

/**
 * What "recovered" means for an action (the issue's target figure):
 * - restart: the killed pod container is running again (its restartCount went up);
 * - replace: the workload has all its replicas Ready on nodes other than the one that went away;
 * - lease: a standby holds the leader Lease the killed leader held;
 * - none: measured elsewhere (the component's own restart, the write stream).
 */
export type RecoveryKind = "restart" | "replace" | "lease" | "none";

export interface WorkloadRef {
  namespace: string;
  selector: Selector;
  replicas: number;
}

export interface KillWatchSpec {
  killAt: number;
  recovery: RecoveryKind;
  /** The node that was killed or paused (NodeNotReady/NodeReady are watched on it). */
  node?: string;
  /** PodKill: the pod and the sum of its containers' restart counts before the kill. */
  pod?: { uid: string; name: string; restarts: number };
  /** Leader kills: the Lease ("namespace/name") and the killed holder. */
  lease?: { key: string; holder: string };
  workload: WorkloadRef;
  /** Workload pods that existed at the kill; others are replacements. */
  preexisting: ReadonlySet<string>;
}

const restarts = (p: Pod) =>
  (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);
const allRunning = (p: Pod) => {
  const cs = p.status?.containerStatuses ?? [];
  return cs.length > 0 && cs.every((c) => Boolean(c.state?.running));
};

/**
 * Turns informer events after one kill into timeline entries and the detection and recovery times.
 * Times are when this process saw the change (the cluster's view as a client has it), except the
 * lease expiry, which the Lease itself records (renewTime + leaseDurationSeconds).
 */
export class KillWatch {
  detectedAt: number | undefined;
  recoveredAt: number | undefined;
  private nodeWasReady: boolean | undefined;
  private nodeWentNotReady = false;
  private podExited = false;
  private lastLeaseOfHolder: Lease | undefined;
  private readonly replacements = new Map<string, { scheduled: boolean; running: boolean; ready: boolean }>();

  constructor(
    readonly spec: KillWatchSpec,
    private readonly timeline: Timeline,
    private readonly now: () => number,
  ) {}

  private detected(at: number): void {
    if (this.detectedAt === undefined || at < this.detectedAt)
      this.detectedAt = Math.max(at, this.spec.killAt);
  }

  private recovered(at: number, event: string, detail: string): void {
    if (this.recoveredAt !== undefined) return;
    this.recoveredAt = at;
    this.timeline.add(at, event, detail);
  }

  private inWorkload(p: Pod): boolean {
    return (
      p.metadata?.namespace === this.spec.workload.namespace &&
      this.spec.workload.selector.matches(p.metadata?.labels)
    );
  }

  /** pods: every pod the informer holds now (after this change), to count Ready replicas. */
  onPod(p: Pod, pods: () => readonly Pod[]): void {
    const at = this.now();
    const name = p.metadata?.name ?? "";
    const s = this.spec;
    if (s.pod && p.metadata?.uid === s.pod.uid) {
      if (!this.podExited && !allRunning(p)) {
        this.podExited = true;
        this.detected(at);
        this.timeline.add(at, "Detected", `container of ${name} not running`);
      }
      if (s.recovery === "restart" && restarts(p) > s.pod.restarts && allRunning(p)) {
        this.detected(at);
        this.recovered(at, "ContainerRestarted", `${name}: restartCount ${restarts(p)}, running`);
      }
    }
    if (!this.inWorkload(p) || s.preexisting.has(p.metadata?.uid ?? "")) {
      if (s.recovery === "replace") this.checkReplaced(at, pods);
      return;
    }
    const uid = p.metadata?.uid ?? "";
    let r = this.replacements.get(uid);
    if (!r) {
      r = { scheduled: false, running: false, ready: false };
      this.replacements.set(uid, r);
    }
    const node = p.spec?.nodeName ?? "";
    if (!r.scheduled && node) {
      r.scheduled = true;
      this.timeline.add(at, "ReplacementScheduled", `${name} on ${node}`);
    }
    if (!r.running && p.status?.phase === "Running") {
      r.running = true;
      this.timeline.add(at, "ReplacementRunning", `${name} on ${node}`);
    }
    if (!r.ready && isPodReady(p)) {
      r.ready = true;
      this.timeline.add(at, "ReplacementReady", `${name} on ${node}`);
    }
    if (s.recovery === "replace") this.checkReplaced(at, pods);
  }

  private checkReplaced(at: number, pods: () => readonly Pod[]): void {
    if (this.recoveredAt !== undefined || !this.spec.node) return;
    const elsewhere = pods().filter(
      (p) => this.inWorkload(p) && isActive(p) && isPodReady(p) && p.spec?.nodeName !== this.spec.node,
    ).length;
    if (elsewhere >= this.spec.workload.replicas)
      this.recovered(
        at,
        "Recovered",
        `${elsewhere}/${this.spec.workload.replicas} replicas Ready off ${this.spec.node}`,
      );
  }

  onNode(n: Node): void {
    if (!this.spec.node || n.metadata?.name !== this.spec.node) return;
    const at = this.now();
    const ready = isNodeReady(n);
    if (this.nodeWasReady === undefined) this.nodeWasReady = ready;
    if (!ready && !this.nodeWentNotReady) {
      this.nodeWentNotReady = true;
      this.detected(at);
      const c = n.status?.conditions?.find((x) => x.type === "Ready");
      this.timeline.add(
        at,
        "NodeNotReady",
        `${this.spec.node} Ready=${c?.status ?? "Unknown"}${c?.reason ? ` (${c.reason})` : ""}`,
      );
    } else if (ready && this.nodeWentNotReady) {
      this.nodeWentNotReady = false;
      this.timeline.add(at, "NodeReady", this.spec.node);
    }
  }

  onLease(l: Lease): void {
    const s = this.spec.lease;
    if (!s || `${l.metadata?.namespace}/${l.metadata?.name}` !== s.key) return;
    const holder = l.spec?.holderIdentity ?? "";
    if (holder === s.holder) {
      this.lastLeaseOfHolder = l;
      return;
    }
    if (!holder || this.recoveredAt !== undefined) return;
    const at = this.now();
    const last = this.lastLeaseOfHolder?.spec;
    const renewed = last?.renewTime ? Date.parse(last.renewTime) : Number.NaN;
    const expiry = renewed + (last?.leaseDurationSeconds ?? 0) * 1000;
    const lostAt = Number.isFinite(expiry) ? Math.min(Math.max(expiry, this.spec.killAt), at) : at;
    this.timeline.add(lostAt, "LeaseLost", `${s.key} held by ${s.holder} expired`);
    this.detected(lostAt);
    this.recovered(at, "LeaseAcquired", `${s.key} now held by ${holder}`);
  }
}
