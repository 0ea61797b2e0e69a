import {
  type Container,
  ContainerState,
  ContainerStatus,
  type Pod,
  PodCondition,
  PodStatus,
} from "@tskube/api";
import type { ContainerStatus as RuntimeContainer } from "./runtime/types.js";

const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** What the syncer decided about each container this round. */
export interface ContainerView {
  spec: Container;
  /** Attempts in start order (the runtime's history for this container). */
  attempts: RuntimeContainer[];
  /** Set while the container waits out CrashLoopBackOff. */
  backoffMessage?: string;
  /** Set when the container could not be created or started. */
  waitingReason?: { reason: string; message: string };
  /** The container exited and will not run again (restartPolicy). */
  finished: boolean;
}

const waiting = (reason: string, message: string) =>
  ContainerState.fromPartial({ waiting: { reason, message } });
const running = (startedAt: number) =>
  ContainerState.fromPartial({ running: { startedAt: rfc3339(startedAt) } });

function terminated(c: RuntimeContainer, runtime: string): ContainerState {
  return ContainerState.fromPartial({
    terminated: {
      exitCode: c.exitCode,
      reason: c.reason,
      message: c.message,
      startedAt: c.startedAt ? rfc3339(c.startedAt) : "",
      finishedAt: c.finishedAt ? rfc3339(c.finishedAt) : "",
      containerId: `${runtime}://${c.id}`,
    },
  });
}

/** Guaranteed when every container has equal cpu and memory requests and limits; BestEffort with none. */
export function qosClass(pod: Pod): string {
  const cs = pod.spec?.containers ?? [];
  let any = false;
  let guaranteed = cs.length > 0;
  for (const c of cs) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    if (Object.keys(req).length || Object.keys(lim).length) any = true;
    for (const r of ["cpu", "memory"]) if (!lim[r] || (req[r] ?? lim[r]) !== lim[r]) guaranteed = false;
  }
  return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

/**
 * The pod's status as the kubelet reports it: phase, conditions, one status per container with
 * state and last state, restart counts, IPs. Transition times are kept from the previous status
 * when a condition did not change, so a steady pod writes nothing.
 */
export function computePodStatus(
  pod: Pod,
  views: ContainerView[],
  opts: {
    podIp: string;
    hostIp: string;
    runtime: string;
    now: number;
    sandboxReady: boolean;
    /** Probe verdicts for a running container (no probes: started and ready). */
    probes?: (containerId: string, spec: Container) => { started: boolean; ready: boolean };
  },
): PodStatus {
  const prev = pod.status;
  const statuses = views.map((v) => {
    const latest = v.attempts[v.attempts.length - 1];
    const previous = v.attempts[v.attempts.length - 2];
    const s = ContainerStatus.fromPartial({
      name: v.spec.name,
      image: v.spec.image,
      imageId: v.spec.image,
      restartCount: Math.max(0, v.attempts.filter((a) => a.startedAt).length - 1),
      ready: false,
      started: false,
    });
    const previousTerminated = previous?.state === "EXITED" ? terminated(previous, opts.runtime) : undefined;
    if (!latest || v.waitingReason) {
      s.state = waiting(v.waitingReason?.reason ?? "ContainerCreating", v.waitingReason?.message ?? "");
      if (latest?.state === "EXITED") s.lastState = terminated(latest, opts.runtime);
      return s;
    }
    s.containerId = `${opts.runtime}://${latest.id}`;
    if (latest.state === "RUNNING") {
      s.state = running(latest.startedAt);
      const verdict = opts.probes?.(latest.id, v.spec) ?? { started: true, ready: true };
      s.ready = verdict.started && verdict.ready;
      s.started = verdict.started;
      s.lastState = previousTerminated;
    } else if (latest.state === "EXITED" && v.backoffMessage) {
      s.state = waiting("CrashLoopBackOff", v.backoffMessage);
      s.lastState = terminated(latest, opts.runtime);
    } else if (latest.state === "EXITED") {
      s.state = terminated(latest, opts.runtime);
      s.lastState = previousTerminated;
    } else {
      s.state = waiting("ContainerCreating", "");
    }
    return s;
  });

  const anyRunning = views.some((v) => v.attempts.at(-1)?.state === "RUNNING");
  const allFinished = views.length > 0 && views.every((v) => v.finished);
  const anyStarted = views.some((v) => v.attempts.some((a) => a.startedAt));
  let phase: string;
  if (allFinished) phase = views.every((v) => v.attempts.at(-1)?.exitCode === 0) ? "Succeeded" : "Failed";
  else if (anyRunning || anyStarted) phase = "Running";
  else phase = "Pending";

  const allReady = statuses.length > 0 && statuses.every((s) => s.ready);
  const cond = (type: string, ok: boolean, reason = "") => {
    const status = ok ? "True" : "False";
    const before = prev?.conditions.find((c) => c.type === type);
    return PodCondition.fromPartial({
      type,
      status,
      reason: ok ? "" : reason,
      lastTransitionTime: before && before.status === status ? before.lastTransitionTime : rfc3339(opts.now),
    });
  };
  const done = phase === "Succeeded" || phase === "Failed";
  const conditions = [
    cond("PodReadyToStartContainers", opts.sandboxReady && !done),
    cond("Initialized", true),
    cond("Ready", allReady, done ? "PodCompleted" : "ContainersNotReady"),
    cond("ContainersReady", allReady, done ? "PodCompleted" : "ContainersNotReady"),
    cond("PodScheduled", true),
  ];
  return PodStatus.fromPartial({
    phase,
    conditions,
    hostIp: opts.hostIp,
    hostIps: [{ ip: opts.hostIp }],
    podIp: opts.podIp,
    podIps: opts.podIp ? [{ ip: opts.podIp }] : [],
    startTime: prev?.startTime || rfc3339(opts.now),
    containerStatuses: statuses,
    qosClass: qosClass(pod),
  });
}
