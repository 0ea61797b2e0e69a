import { Event, type KindInfo, type KubeObject, kindForTypeName } from "@tskube/api";
import type { ResourceClient } from "@tskube/client";
import { type Logger, silentLogger } from "@tskube/log";
import { isNotFound } from "@tskube/machinery";
import { type Clock, realClock } from "./clock.js";

export type EventType = "Normal" | "Warning";

export interface EventRecorderOptions {
  events: ResourceClient<Event>;
  component: string;
  host?: string;
  clock?: Clock;
  log?: Logger;
  /** Repeats of the same event within this window bump its count instead of adding one. */
  aggregateWindowMs?: number;
}

const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * Records Kubernetes Events about objects (client-go's EventRecorder). A repeat of the same
 * reason and message for the same object is counted on the existing Event, so a crash loop or a
 * pending pod does not flood etcd. Recording never throws: events are best effort.
 */
/** Events remembered for counting repeats (client-go's EventCorrelator keeps an LRU of this size). */
const MAX_TRACKED_EVENTS = 4096;

export class EventRecorder {
  private readonly seen = new Map<
    string,
    { name: string; namespace: string; count: number; first: number; last: number }
  >();
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly opts: EventRecorderOptions) {
    this.clock = opts.clock ?? realClock;
    this.log = opts.log ?? silentLogger;
  }

  /** Records in flight per event key: repeats wait for the first, so they count on its Event. */
  private readonly inFlight = new Map<string, Promise<void>>();

  event(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    // Concurrent repeats (a batch of failing creates) would otherwise each create an Event.
    const key = `${obj.metadata?.uid}|${type}|${reason}|${message}`;
    const run = (this.inFlight.get(key) ?? Promise.resolve())
      .then(() => this.record(obj, type, reason, message))
      .catch((err) => this.log.warn({ err: (err as Error).message, reason }, "could not record event"));
    this.inFlight.set(key, run);
    void run.then(() => {
      if (this.inFlight.get(key) === run) this.inFlight.delete(key);
    });
    return run;
  }

  private async record(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const m = obj.metadata!;
    const kind: KindInfo | undefined = kindForTypeName(obj.$type);
    const namespace = m.namespace || "default";
    const key = `${m.uid}|${type}|${reason}|${message}`;
    const now = this.clock.now();
    const window = this.opts.aggregateWindowMs ?? 10 * 60_000;
    const prev = this.seen.get(key);
    if (prev && now - prev.last < window) {
      prev.count++;
      prev.last = now;
      // Re-inserted so the map stays ordered by last use (an LRU, like client-go's correlator).
      this.seen.delete(key);
      this.seen.set(key, prev);
      try {
        const ev = await this.opts.events.get(prev.name, { namespace: prev.namespace });
        await this.opts.events.update({ ...ev, count: prev.count, lastTimestamp: rfc3339(now) });
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const name = `${m.name}.${now.toString(16)}${Math.floor(Math.random() * 0x10000).toString(16)}`;
    await this.opts.events.create(
      Event.fromPartial({
        metadata: { name, namespace },
        involvedObject: {
          kind: kind?.kind ?? obj.kind,
          apiVersion: obj.apiVersion,
          namespace: m.namespace,
          name: m.name,
          uid: m.uid,
          resourceVersion: m.resourceVersion,
        },
        reason,
        message,
        type,
        count: 1,
        firstTimestamp: rfc3339(now),
        lastTimestamp: rfc3339(now),
        source: { component: this.opts.component, host: this.opts.host ?? "" },
        reportingComponent: this.opts.component,
        reportingInstance: this.opts.host ?? "",
      }),
    );
    this.seen.delete(key);
    this.seen.set(key, { name, namespace, count: 1, first: now, last: now });
    // Oldest first: drop what fell out of the window, and the least recently used beyond
    // client-go's 4096 entries, without scanning the rest.
    for (const [k, v] of this.seen) {
      if (this.seen.size <= MAX_TRACKED_EVENTS && now - v.last < window) break;
      this.seen.delete(k);
    }
  }
}
