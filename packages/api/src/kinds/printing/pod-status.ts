import type { Pod } from "../../gen/tskube/v1/core.js";

/** The STATUS column of `kubectl get pods` (printPod in Kubernetes' printers). */
export function podStatus(pod: Pod): string {
  const status = pod.status;
  let reason = status?.reason || status?.phase || "Pending";
  let initializing = false;
  const initStatuses = status?.initContainerStatuses ?? [];
  const initCount = pod.spec?.initContainers.length ?? 0;
  for (const [i, c] of initStatuses.entries()) {
    const t = c.state?.terminated;
    const w = c.state?.waiting;
    if (t && t.exitCode === 0) continue;
    if (t) {
      reason = t.reason
        ? `Init:${t.reason}`
        : t.signal
          ? `Init:Signal:${t.signal}`
          : `Init:ExitCode:${t.exitCode}`;
    } else if (w?.reason && w.reason !== "PodInitializing") {
      reason = `Init:${w.reason}`;
    } else {
      reason = `Init:${i}/${initCount}`;
    }
    initializing = true;
    break;
  }
  if (!initializing) {
    let hasRunning = false;
    const statuses = [...(status?.containerStatuses ?? [])].reverse();
    for (const c of statuses) {
      const w = c.state?.waiting;
      const t = c.state?.terminated;
      if (w?.reason) reason = w.reason;
      else if (t?.reason) reason = t.reason;
      else if (t) reason = t.signal ? `Signal:${t.signal}` : `ExitCode:${t.exitCode}`;
      else if (c.ready && c.state?.running) hasRunning = true;
    }
    if (reason === "Completed" && hasRunning) {
      const ready = status?.conditions.some((c) => c.type === "Ready" && c.status === "True");
      reason = ready ? "Running" : "NotReady";
    }
  }
  if (pod.metadata?.deletionTimestamp) reason = status?.reason === "NodeLost" ? "Unknown" : "Terminating";
  return reason;
}

export function podReady(pod: Pod): string {
  const total = pod.spec?.containers.length ?? 0;
  const ready = (pod.status?.containerStatuses ?? []).filter((c) => c.ready).length;
  return `${ready}/${total}`;
}

export function podRestarts(pod: Pod, now: number, humanDuration: (ms: number) => string): string {
  let restarts = 0;
  let last = 0;
  for (const c of pod.status?.containerStatuses ?? []) {
    restarts += c.restartCount;
    const finished = c.lastState?.terminated?.finishedAt;
    if (finished) last = Math.max(last, Date.parse(finished));
  }
  return last && restarts ? `${restarts} (${humanDuration(now - last)} ago)` : String(restarts);
}
