import { connect } from "node:net";
import type { Container, Pod, Probe } from "@tskube/api";
import type { EventRecorder } from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { type ProbeKind, ProbeResults } from "./probe-results.js";
import type { Runtime } from "./runtime/types.js";

export type { ProbeKind };

export interface ProbeResult {
  ok: boolean;
  output: string;
}

/** A probe or hook port: a number, or the name of one of the container's ports. */
export function resolvePort(port: string, container: Container): number {
  if (/^\d+$/.test(port)) return Number(port);
  const named = container.ports.find((p) => p.name === port);
  if (!named) throw new Error(`couldn't find port ${port} in the container`);
  return named.containerPort;
}

/** One probe attempt with the handler the probe names (Kubernetes' prober.runProbe). */
export async function runProbe(
  probe: Probe,
  container: Container,
  containerId: string,
  podIp: string,
  runtime: Runtime,
): Promise<ProbeResult> {
  const timeoutMs = Math.max(1, probe.timeoutSeconds || 1) * 1000;
  try {
    if (probe.exec) {
      const r = await runtime.execSync(containerId, probe.exec.command, timeoutMs);
      return {
        ok: r.exitCode === 0,
        output: (r.stdout + r.stderr).trim() || `command exited with ${r.exitCode}`,
      };
    }
    if (probe.httpGet) {
      const g = probe.httpGet;
      const host = g.host || podIp;
      const url = `${(g.scheme || "HTTP").toLowerCase()}://${host}:${resolvePort(g.port, container)}${g.path || "/"}`;
      const headers = Object.fromEntries(g.httpHeaders.map((h) => [h.name, h.value]));
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 400
        ? { ok: true, output: "" }
        : { ok: false, output: `HTTP probe failed with statuscode: ${res.status}` };
    }
    if (probe.tcpSocket) {
      const port = resolvePort(probe.tcpSocket.port, container);
      const host = probe.tcpSocket.host || podIp;
      await new Promise<void>((resolve, reject) => {
        const s = connect({ host, port, timeout: timeoutMs }, () => {
          s.destroy();
          resolve();
        });
        s.on("timeout", () => {
          s.destroy();
          reject(new Error(`dial tcp ${host}:${port}: i/o timeout`));
        });
        s.on("error", (err) => reject(new Error(`dial tcp ${host}:${port}: ${err.message}`)));
      });
      return { ok: true, output: "" };
    }
    return { ok: false, output: "probe has no handler" };
  } catch (err) {
    const e = err as Error;
    return {
      ok: false,
      output:
        e.name === "TimeoutError"
          ? `Get "${probe.httpGet ? "http" : ""}…": context deadline exceeded`
          : e.message,
    };
  }
}

interface Worker {
  timer: NodeJS.Timeout | undefined;
  successes: number;
  failures: number;
}

export interface ProbeManagerOptions {
  runtime: Runtime;
  recorder: EventRecorder;
  log: Logger;
  /** A verdict changed: the pod's worker must look at it (enqueue only; the worker acts). */
  onChange(podUid: string): void;
}

/** Kubernetes' initial results: a container is alive until a liveness probe says otherwise. */
const initialVerdict = (kind: ProbeKind) => kind === "liveness";

/**
 * Runs each running container's probes on their own schedule (the kubelet's prober workers) and
 * records the verdicts in `results`: startup gates the other two, readiness drives the container's
 * ready flag, and a liveness or startup failure is recorded for the pod's worker, which restarts
 * the container on its next sync. A probe worker never touches the container itself.
 */
export class ProbeManager {
  private workers = new Map<string, Worker>();
  readonly results: ProbeResults;

  constructor(private readonly opts: ProbeManagerOptions) {
    this.results = new ProbeResults((uid) => opts.onChange(uid));
  }

  private key(containerId: string, kind: ProbeKind) {
    return `${containerId}/${kind}`;
  }

  /** Whether a container counts as started and ready (no probe: yes). */
  verdict(containerId: string, kind: ProbeKind, container: Container): boolean {
    const probe =
      kind === "readiness"
        ? container.readinessProbe
        : kind === "startup"
          ? container.startupProbe
          : container.livenessProbe;
    if (!probe) return true;
    return this.results.get(containerId, kind)?.ok ?? initialVerdict(kind);
  }

  /** Why the pod's worker must restart the container (a liveness or startup failure), if it must. */
  restartReason(containerId: string): ReturnType<ProbeResults["restartReason"]> {
    return this.results.restartReason(containerId);
  }

  /** Starts the probes of a running container once; later calls are no-ops. */
  ensure(pod: Pod, container: Container, containerId: string, podIp: string): void {
    const kinds: [ProbeKind, Probe | undefined][] = [
      ["startup", container.startupProbe],
      ["liveness", container.livenessProbe],
      ["readiness", container.readinessProbe],
    ];
    for (const [kind, probe] of kinds) {
      if (!probe) continue;
      const key = this.key(containerId, kind);
      if (this.workers.has(key)) continue;
      const w: Worker = { timer: undefined, successes: 0, failures: 0 };
      this.workers.set(key, w);
      const tick = async () => {
        if (this.workers.get(key) !== w) return;
        const gated =
          kind !== "startup" && container.startupProbe && !this.verdict(containerId, "startup", container);
        const onHold = gated
          ? false
          : await this.probeOnce(pod, container, containerId, podIp, kind, probe, w);
        // On hold (Kubernetes' onHold): a container whose liveness or startup failed is probed no
        // more; the pod's worker replaces it, and the new container gets new probe workers.
        if (!onHold && this.workers.get(key) === w)
          w.timer = setTimeout(tick, Math.max(1, probe.periodSeconds || 10) * 1000);
        else w.timer = undefined;
      };
      w.timer = setTimeout(tick, Math.max(0, probe.initialDelaySeconds) * 1000);
    }
  }

  /** One probe and its thresholds; returns whether the worker goes on hold. */
  private async probeOnce(
    pod: Pod,
    container: Container,
    containerId: string,
    podIp: string,
    kind: ProbeKind,
    probe: Probe,
    w: Worker,
  ): Promise<boolean> {
    const r = await runProbe(probe, container, containerId, podIp, this.opts.runtime);
    const uid = pod.metadata!.uid;
    if (r.ok) {
      w.failures = 0;
      w.successes++;
      if (w.successes >= Math.max(1, probe.successThreshold || 1))
        this.results.set(uid, containerId, kind, { ok: true, message: "" });
      return false;
    }
    w.successes = 0;
    w.failures++;
    const label = kind[0]!.toUpperCase() + kind.slice(1);
    await this.opts.recorder.event(pod, "Warning", "Unhealthy", `${label} probe failed: ${r.output}`);
    if (w.failures < Math.max(1, probe.failureThreshold || 3)) return false;
    const message =
      kind === "readiness" ? "" : `Container ${container.name} failed ${kind} probe, will be restarted`;
    this.results.set(uid, containerId, kind, { ok: false, message });
    return kind !== "readiness";
  }

  /** Stops every probe of a container and forgets its verdicts (it exited or was removed). */
  stop(containerId: string): void {
    for (const [key, w] of this.workers) {
      if (!key.startsWith(`${containerId}/`)) continue;
      if (w.timer) clearTimeout(w.timer);
      this.workers.delete(key);
    }
    this.results.remove(containerId);
  }

  /** Containers that no longer exist lose their probes. */
  retain(running: Set<string>): void {
    for (const key of this.workers.keys()) {
      const id = key.slice(0, key.lastIndexOf("/"));
      if (!running.has(id)) this.stop(id);
    }
  }
}
