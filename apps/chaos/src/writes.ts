import { ConfigMap } from "@tskube/api";
import type { Client } from "@tskube/client";
import type { Clock } from "@tskube/controller";

export const EXPERIMENT_LABEL = "chaos.tskube.io/experiment";

export interface WriteStreamOptions {
  client: Pick<Client, "resource">;
  namespace: string;
  experiment: string;
  writesPerSecond: number;
  /** Writes awaiting an answer at most; a tick with that many outstanding is skipped. */
  maxInFlight: number;
  clock: Clock;
}

/**
 * A bounded stream of ConfigMap creates, one object per write, so each acknowledged write can be
 * looked up after recovery. A write the apiserver answered with success is acknowledged: etcd
 * committed it, and it must survive whatever was killed. A write that failed may or may not have
 * been committed and counts as rejected, never as lost.
 */
export class WriteStream {
  readonly acknowledged = new Map<string, number>();
  rejected = 0;
  private timer: unknown;
  private stopped = false;
  private seq = 0;
  private next = 0;
  private readonly inFlight = new Set<Promise<void>>();
  readonly errors = new Map<string, number>();

  constructor(private readonly opts: WriteStreamOptions) {}

  start(): void {
    this.next = this.opts.clock.now();
    this.tick();
  }

  private tick(): void {
    if (this.stopped) return;
    const { clock, client } = this.opts;
    if (this.inFlight.size < this.opts.maxInFlight) {
      const name = `${this.opts.experiment}-w${this.seq++}`.slice(0, 253);
      const p = client
        .resource<ConfigMap>("configmaps")
        .create(
          ConfigMap.fromPartial({
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: {
              name,
              namespace: this.opts.namespace,
              labels: { [EXPERIMENT_LABEL]: this.opts.experiment },
            },
            data: { seq: String(this.seq) },
          }),
        )
        .then(
          () => {
            this.acknowledged.set(name, clock.now());
          },
          (err: Error) => {
            this.rejected++;
            const key = err.message.slice(0, 120);
            this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
          },
        )
        .finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
    this.next += 1000 / this.opts.writesPerSecond;
    this.timer = clock.setTimeout(() => this.tick(), Math.max(0, this.next - clock.now()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.opts.clock.clearTimeout(this.timer);
    await Promise.all([...this.inFlight]);
  }

  /** Acknowledged writes that the API no longer has (present: names listed after recovery). */
  lost(present: ReadonlySet<string>): string[] {
    return [...this.acknowledged.keys()].filter((n) => !present.has(n));
  }
}
