import { Experiment, ExperimentStatus } from "@tskube/api";
import type { Client } from "@tskube/client";
import type { Informer } from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { isConflict, isNotFound } from "@tskube/machinery";
import type { Runner } from "./runner.js";

export const INTERRUPTED = "Interrupted";

/** Writes a status onto the latest version of the object (retrying conflicts with other writers). */
export async function writeStatus(
  client: Pick<Client, "resource">,
  exp: Experiment,
  status: Partial<ExperimentStatus>,
): Promise<Experiment | undefined> {
  const experiments = client.resource<Experiment>("experiments");
  const namespace = exp.metadata?.namespace ?? "default";
  const name = exp.metadata?.name ?? "";
  for (let attempt = 0; ; attempt++) {
    try {
      const cur = await experiments.get(name, { namespace });
      return await experiments.updateStatus(
        Experiment.fromPartial({
          ...cur,
          status: ExperimentStatus.fromPartial({ ...cur.status, ...status }),
        }),
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      if (!isConflict(err) || attempt >= 5) throw err;
    }
  }
}

const pending = (e: Experiment) => !e.status?.phase || e.status.phase === "Pending";
const created = (e: Experiment) => e.metadata?.creationTimestamp ?? "";

/**
 * Runs Experiments one at a time, oldest first. An experiment found Running when this controller
 * starts was cut off by a restart of the controller itself: its kills may have been half done, so
 * it is marked Failed (reason Interrupted) rather than run again blindly.
 */
export class ExperimentController {
  private wake: (() => void) | undefined;
  running: string | undefined;
  /** Uids already run by this process: a status write that failed must not start the run again. */
  private readonly tried = new Set<string>();

  constructor(
    private readonly client: Client,
    private readonly experiments: Informer<Experiment>,
    private readonly runner: Runner,
    private readonly log: Logger,
  ) {
    const poke = () => this.wake?.();
    experiments.addEventHandler({ onAdd: poke, onUpdate: poke });
  }

  async markInterrupted(): Promise<void> {
    for (const e of this.experiments.store.list()) {
      if (e.status?.phase !== "Running") continue;
      this.log.warn(
        { experiment: `${e.metadata?.namespace}/${e.metadata?.name}` },
        "marking an interrupted experiment Failed",
      );
      await writeStatus(this.client, e, {
        phase: "Failed",
        reason: INTERRUPTED,
        message: "the chaos controller restarted while this experiment ran; its kills were not repeated",
        verdict: "Failed",
        completionTime: new Date().toISOString(),
      });
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    await this.experiments.waitForSync(signal);
    await this.markInterrupted();
    while (!signal.aborted) {
      const next = this.experiments.store
        .list()
        .filter((e) => pending(e) && !this.tried.has(e.metadata?.uid ?? ""))
        .sort((a, b) => created(a).localeCompare(created(b)))[0];
      if (!next) {
        const woken = new AbortController();
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          signal.addEventListener("abort", () => resolve(), { once: true, signal: woken.signal });
        }).finally(() => woken.abort());
        this.wake = undefined;
        continue;
      }
      await this.runOne(next, signal);
    }
  }

  private async runOne(exp: Experiment, signal: AbortSignal): Promise<void> {
    const key = `${exp.metadata?.namespace}/${exp.metadata?.name}`;
    const log = this.log.child({ experiment: key });
    this.running = key;
    this.tried.add(exp.metadata?.uid ?? "");
    try {
      const started = await writeStatus(this.client, exp, {
        phase: "Running",
        startTime: new Date().toISOString(),
        observedGeneration: exp.metadata?.generation ?? 0,
      });
      if (!started) return;
      log.info({ action: exp.spec?.action, target: exp.spec?.target }, "experiment running");
      let status: ExperimentStatus;
      try {
        status = await this.runner.run(started, signal);
      } catch (err) {
        log.warn({ err }, "experiment failed to run");
        status = ExperimentStatus.fromPartial({
          phase: "Failed",
          reason: (err as { reason?: string }).reason ?? "Error",
          message: (err as Error).message,
          verdict: "Failed",
          startTime: started.status?.startTime ?? "",
          completionTime: new Date().toISOString(),
          observedGeneration: exp.metadata?.generation ?? 0,
        });
      }
      if (signal.aborted) return; // stays Running: the next start marks it Interrupted
      await writeStatus(this.client, started, status);
      log.info(
        {
          verdict: status.verdict,
          figures: status.figures,
          requests: status.requests,
          writes: status.writes,
          invariants: status.invariants.map((i) => `${i.name}=${i.ok}`),
        },
        "experiment finished",
      );
    } catch (err) {
      log.error({ err }, "could not record the experiment's status");
    } finally {
      this.running = undefined;
    }
  }
}
