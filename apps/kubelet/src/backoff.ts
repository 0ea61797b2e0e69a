/**
 * CrashLoopBackOff per container (the kubelet's flowcontrol.Backoff): the first restart is at once,
 * then 10 s doubling to 5 min; a container that ran longer than the reset period starts over.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  resetMs: number;
}

interface Entry {
  delayMs: number;
  /** When the last restart happened (the back-off counts from here). */
  lastRestartAt: number;
}

export class RestartBackoff {
  private entries = new Map<string, Entry>();

  constructor(private readonly opts: BackoffOptions) {}

  /**
   * May the container restart now? Returns 0 if so (and records the restart), or the ms left to wait.
   * ranForMs is how long the exited attempt ran.
   */
  tryRestart(key: string, now: number, ranForMs: number): number {
    let e = this.entries.get(key);
    if (e && ranForMs >= this.opts.resetMs) {
      this.entries.delete(key);
      e = undefined;
    }
    if (!e) {
      this.entries.set(key, { delayMs: this.opts.initialMs, lastRestartAt: now });
      return 0;
    }
    const readyAt = e.lastRestartAt + e.delayMs;
    if (now < readyAt) return readyAt - now;
    e.delayMs = Math.min(e.delayMs * 2, this.opts.maxMs);
    e.lastRestartAt = now;
    return 0;
  }

  /** The current back-off for messages ("back-off 20s restarting failed container"). */
  delay(key: string): number {
    return this.entries.get(key)?.delayMs ?? this.opts.initialMs;
  }

  forget(prefix: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }
}
