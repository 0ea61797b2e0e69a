import { connect } from "node:net";
import type { Container, Pod, Probe } from "@tskube/api";
import type { EventRecorder } from "@tskube/controller";
import type { Logger } from "@tskube/log";
import type { Runtime } from "./runtime/types.js";

export type ProbeKind = "liveness" | "readiness" | "startup";

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
  /** Current verdict: readiness=ready, liveness=alive, startup=started. */
  result: boolean;
}

export interface ProbeManagerOptions {
  runtime: Runtime;
  recorder: EventRecorder;
  log: Logger;
  /** A verdict changed: the pod must be synced again. */
  onChange(podUid: string): void;
  /** Liveness or startup failed past the threshold: the container must be restarted. */
  onUnhealthy(podUid: string, containerId: string, message: string): void;
}

/**
 * Runs each running container's probes on their own schedule (the kubelet's prober workers) and
 * keeps the verdicts: startup gates the other two, readiness drives the container's ready flag,
 * liveness and startup failures restart the container.
 */
export class ProbeManager {
  private workers = new Map<string, Worker>();

  constructor(private readonly opts: ProbeManagerOptions) {}

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
    return this.workers.get(this.key(containerId, kind))?.result ?? false;
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
      const w: Worker = { timer: undefined, successes: 0, failures: 0, result: kind === "liveness" };
      this.workers.set(key, w);
      const tick = async () => {
        if (!this.workers.has(key)) return;
        const gated =
          kind !== "startup" && container.startupProbe && !this.verdict(containerId, "startup", container);
        if (!gated) await this.probeOnce(pod, container, containerId, podIp, kind, probe, w);
        if (this.workers.has(key)) w.timer = setTimeout(tick, Math.max(1, probe.periodSeconds || 10) * 1000);
      };
      w.timer = setTimeout(tick, Math.max(0, probe.initialDelaySeconds) * 1000);
    }
  }

  private async probeOnce(
    pod: Pod,
    container: Container,
    containerId: string,
    podIp: string,
    kind: ProbeKind,
    probe: Probe,
    w: Worker,
  ): Promise<void> {
    const r = await runProbe(probe, container, containerId, podIp, this.opts.runtime);
    const uid = pod.metadata!.uid;
    const before = w.result;
    if (r.ok) {
      w.failures = 0;
      w.successes++;
      if (w.successes >= Math.max(1, probe.successThreshold || 1)) w.result = true;
    } else {
      w.successes = 0;
      w.failures++;
      const label = kind[0]!.toUpperCase() + kind.slice(1);
      await this.opts.recorder.event(pod, "Warning", "Unhealthy", `${label} probe failed: ${r.output}`);
      if (w.failures >= Math.max(1, probe.failureThreshold || 3)) {
        w.result = false;
        if (kind !== "readiness") {
          this.stop(containerId);
          this.opts.onUnhealthy(
            uid,
            containerId,
            `Container ${container.name} failed ${kind} probe, will be restarted`,
          );
          return;
        }
      }
    }
    if (before !== w.result) this.opts.onChange(uid);
  }

  /** Stops every probe of a container (it exited or was removed). */
  stop(containerId: string): void {
    for (const [key, w] of this.workers) {
      if (!key.startsWith(`${containerId}/`)) continue;
      if (w.timer) clearTimeout(w.timer);
      this.workers.delete(key);
    }
  }

  /** Containers that no longer exist lose their probes. */
  retain(running: Set<string>): void {
    for (const key of this.workers.keys()) {
      const id = key.slice(0, key.lastIndexOf("/"));
      if (!running.has(id)) this.stop(id);
    }
  }
}
