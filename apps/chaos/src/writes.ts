import { ConfigMap } from "@tskube/api";
import { type Client, isAmbiguousWrite } from "@tskube/client";
import type { Clock } from "@tskube/controller";

export const EXPERIMENT_LABEL = "chaos.tskube.io/experiment";
/** Which write of the stream made an object: its sequence number. */
export const WRITE_LABEL = "chaos.tskube.io/write";

export interface WriteStreamOptions {
  client: Pick<Client, "resource">;
  namespace: string;
  experiment: string;
  writesPerSecond: number;
  /** Writes awaiting an answer at most; a tick with that many outstanding is skipped. */
  maxInFlight: number;
  clock: Clock;
}

/** An object of the stream as listed after recovery. */
export interface StoredWrite {
  metadata?: { name?: string; labels?: Record<string, string> } | undefined;
}

/**
 * A bounded stream of ConfigMap creates, one object per write, so each acknowledged write can be
 * looked up after recovery. A write the apiserver answered with success is acknowledged: etcd
 * committed it, and it must survive whatever was killed. A write that failed counts as rejected,
 * never as lost.
 *
 * The creates use generateName, the write a blind client retry duplicates (a second attempt makes a
 * second object under another name), and label each object with its write, so that after recovery
 * every object is traced to the write that made it: an object no acknowledged write returned is a
 * duplicate, unless its write failed saying it may or may not have been applied (the client's
 * AmbiguousWriteError: its apiserver died before answering), which allows one.
 */
export class WriteStream {
  /** Names the apiserver answered with, and when. */
  readonly acknowledged = new Map<string, number>();
  rejected = 0;
  /** Writes (sequence numbers) that failed saying they may or may not have been applied. */
  readonly maybeApplied = new Set<number>();
  private readonly acknowledgedBySeq = new Map<number, string>();
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
      const seq = this.seq++;
      const p = client
        .resource<ConfigMap>("configmaps")
        .create(
          ConfigMap.fromPartial({
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: {
              // Five characters are generated.
              generateName: `${this.opts.experiment.slice(0, 245)}-w-`,
              namespace: this.opts.namespace,
              labels: { [EXPERIMENT_LABEL]: this.opts.experiment, [WRITE_LABEL]: String(seq) },
            },
            data: { seq: String(seq) },
          }),
        )
        .then(
          (made) => {
            const name = made.metadata?.name ?? "";
            this.acknowledged.set(name, clock.now());
            this.acknowledgedBySeq.set(seq, name);
          },
          (err: Error) => {
            this.rejected++;
            if (isAmbiguousWrite(err)) this.maybeApplied.add(seq);
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

  /**
   * Objects (names) written that no acknowledged write returned, beyond the one a write that may
   * or may not have been applied is allowed: what a resent write leaves behind.
   */
  duplicated(stored: readonly StoredWrite[]): string[] {
    const out: string[] = [];
    const allowanceUsed = new Set<number>();
    for (const o of stored) {
      const name = o.metadata?.name ?? "";
      const label = o.metadata?.labels?.[WRITE_LABEL];
      const seq = label === undefined ? Number.NaN : Number(label);
      if (this.acknowledgedBySeq.get(seq) === name) continue;
      if (this.maybeApplied.has(seq) && !allowanceUsed.has(seq)) {
        allowanceUsed.add(seq);
        continue;
      }
      out.push(name);
    }
    return out;
  }
}
