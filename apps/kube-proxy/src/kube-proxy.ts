import { type Endpoints, KINDS, type Service } from "@tskube/api";
import type { Client } from "@tskube/client";
import { type Clock, realClock, SharedInformerFactory } from "@tskube/controller";
import type { Logger } from "@tskube/log";
import type { Counter, Histogram } from "prom-client";
import type { Proxier } from "./proxier.js";
import { buildServicePorts } from "./service-port.js";
import { SyncRunner } from "./sync-runner.js";

/** Set by the endpoints controller (Kubernetes' EndpointsLastChangeTriggerTime): when the change began. */
export const LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time";

export interface KubeProxyMetrics {
  syncDuration: Histogram;
  networkProgramming: Histogram;
  changes: Counter<"kind">;
  syncs: Counter<"result">;
}

export interface KubeProxyOptions {
  client: Pick<Client, "resource">;
  proxier: Proxier;
  log: Logger;
  minSyncPeriodMs: number;
  syncPeriodMs: number;
  burstDelayMs: number;
  metrics?: KubeProxyMetrics;
  clock?: Clock;
}

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;

/**
 * The proxy's loop: Service and Endpoints informers only request a sync; each sync reads both
 * caches whole and hands the proxier the complete state (level-based, so a missed event can never
 * leave a rule behind), at most once per min sync period and at least once per sync period.
 */
export class KubeProxy {
  private readonly factory: SharedInformerFactory;
  private readonly runner: SyncRunner;
  private readonly clock: Clock;
  private firstSyncDone = false;
  /** When the oldest change not yet programmed arrived (healthz fails if it waits too long). */
  private oldestPendingAt: number | undefined;
  /** Trigger times of the changes waiting for the next sync. */
  private triggerTimes: number[] = [];

  constructor(private readonly opts: KubeProxyOptions) {
    this.clock = opts.clock ?? realClock;
    this.factory = new SharedInformerFactory(opts.client, { log: opts.log, clock: this.clock });
    this.runner = new SyncRunner(() => this.syncOnce(), {
      minIntervalMs: opts.minSyncPeriodMs,
      maxIntervalMs: opts.syncPeriodMs,
      burstDelayMs: opts.burstDelayMs,
      clock: this.clock,
      onError: (err) => opts.log.error({ err }, "sync failed; retrying"),
    });
  }

  private readonly services = () => this.factory.informerFor<Service>(kind("Service") as never);
  private readonly endpoints = () => this.factory.informerFor<Endpoints>(kind("Endpoints") as never);

  async run(signal: AbortSignal): Promise<void> {
    const changed = (what: string) => () => {
      this.opts.metrics?.changes.inc({ kind: what });
      this.oldestPendingAt ??= this.clock.now();
      if (this.firstSyncDone) this.runner.run();
    };
    const endpointChanged = (ep: Endpoints) => {
      const t = Date.parse(ep.metadata?.annotations?.[LAST_CHANGE_TRIGGER_TIME] ?? "");
      if (Number.isFinite(t)) this.triggerTimes.push(t);
      changed("endpoints")();
    };
    this.services().addEventHandler({
      onAdd: changed("services"),
      onUpdate: changed("services"),
      onDelete: changed("services"),
    });
    this.endpoints().addEventHandler({
      onAdd: endpointChanged,
      onUpdate: (_old, ep) => endpointChanged(ep),
      onDelete: changed("endpoints"),
    });
    await this.opts.proxier.start();
    this.factory.start(signal);
    if (!(await this.factory.waitForCacheSync(signal))) return;
    this.opts.log.info(
      { mode: this.opts.proxier.mode, services: this.services().store.list().length },
      "caches synced; programming the node",
    );
    // The first sync is not debounced: until it runs the node serves nothing.
    await this.syncOnce().catch((err) => this.opts.log.error({ err }, "initial sync failed; retrying"));
    this.firstSyncDone = true;
    this.runner.start();
    if (this.oldestPendingAt !== undefined) this.runner.run();
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
    this.runner.stop();
    await this.opts.proxier.stop();
  }

  /** Ready once the first sync programmed the node. */
  ready(): string | undefined {
    return this.firstSyncDone ? undefined : "initial sync has not completed";
  }

  /** Unhealthy when a change has waited longer than the sync period (Kubernetes' proxier healthz). */
  healthy(): string | undefined {
    if (this.oldestPendingAt === undefined) return undefined;
    const waited = this.clock.now() - this.oldestPendingAt;
    return waited > this.opts.syncPeriodMs ? `a change has waited ${waited}ms to be programmed` : undefined;
  }

  private async syncOnce(): Promise<void> {
    const startedAt = this.clock.now();
    const pendingSince = this.oldestPendingAt;
    const triggers = this.triggerTimes;
    this.oldestPendingAt = undefined;
    this.triggerTimes = [];
    const ports = buildServicePorts(this.services().store.list(), this.endpoints().store.list());
    try {
      await this.opts.proxier.sync(ports);
    } catch (err) {
      // Not programmed: these changes still wait.
      if (pendingSince !== undefined)
        this.oldestPendingAt = Math.min(pendingSince, this.oldestPendingAt ?? pendingSince);
      this.triggerTimes.push(...triggers);
      this.opts.metrics?.syncs.inc({ result: "error" });
      throw err;
    }
    const took = this.clock.now() - startedAt;
    this.opts.metrics?.syncs.inc({ result: "success" });
    this.opts.metrics?.syncDuration.observe(took / 1000);
    const done = Date.now();
    for (const t of triggers) this.opts.metrics?.networkProgramming.observe(Math.max(0, done - t) / 1000);
    this.opts.log.debug({ servicePorts: ports.length, tookMs: took }, "synced proxy rules");
  }
}
