export type ProbeKind = "liveness" | "readiness" | "startup";

export interface ProbeVerdict {
  /** readiness: ready; liveness: alive; startup: started. */
  ok: boolean;
  /** Why a liveness or startup failure restarts the container (the Killing event's message). */
  message: string;
}

/**
 * Kubernetes' prober/results manager: the latest verdict of each probe of each container, written
 * by the probe workers and read by the pod's worker on its next sync. A change is only reported
 * (onUpdate enqueues the pod); whatever the verdict calls for, the pod's worker does.
 */
export class ProbeResults {
  private readonly byContainer = new Map<string, Map<ProbeKind, ProbeVerdict>>();

  constructor(private readonly onUpdate: (podUid: string) => void) {}

  get(containerId: string, kind: ProbeKind): ProbeVerdict | undefined {
    return this.byContainer.get(containerId)?.get(kind);
  }

  /** Records a verdict; a changed one tells the pod's worker. */
  set(podUid: string, containerId: string, kind: ProbeKind, verdict: ProbeVerdict): void {
    let kinds = this.byContainer.get(containerId);
    if (!kinds) {
      kinds = new Map();
      this.byContainer.set(containerId, kinds);
    }
    const before = kinds.get(kind);
    kinds.set(kind, verdict);
    if (before?.ok !== verdict.ok) this.onUpdate(podUid);
  }

  /**
   * Why the container must be restarted: its liveness or startup probe failed past the threshold
   * (Kubernetes' computePodActions asks the liveness and startup managers the same). Undefined
   * while it is healthy.
   */
  restartReason(containerId: string): { kind: "liveness" | "startup"; message: string } | undefined {
    const kinds = this.byContainer.get(containerId);
    for (const kind of ["liveness", "startup"] as const) {
      const v = kinds?.get(kind);
      if (v && !v.ok) return { kind, message: v.message };
    }
    return undefined;
  }

  remove(containerId: string): void {
    this.byContainer.delete(containerId);
  }
}
