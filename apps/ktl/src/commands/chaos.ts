import { writeFileSync } from "node:fs";
import {
  EXPERIMENT_ACTIONS,
  Experiment,
  type ExperimentAction,
  type ExperimentSpec,
  experimentKind,
  printing,
} from "@tskube/api";
import { parseDuration } from "@tskube/machinery";
import type { Command } from "commander";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { experimentReportHtml, experimentReportJson } from "../printers/experiment-report.js";
import { describeObject } from "./describe.js";

const FINAL_PHASES = ["Succeeded", "Failed"];

/** "node-kill" for NodeKill: how the command line names an action. */
export const kebabAction = (a: string): string => a.replace(/([a-z])([A-Z])/g, "$1-$2").toLowerCase();

/** An action named in kebab case ("node-kill") or as the API spells it ("NodeKill"). */
export function parseAction(name: string): ExperimentAction {
  const wanted = name.replace(/[-_]/g, "").toLowerCase();
  const found = EXPERIMENT_ACTIONS.find((a) => a.toLowerCase() === wanted);
  if (!found)
    throw new UsageError(
      `unknown chaos action "${name}": supported actions are ${EXPERIMENT_ACTIONS.map(kebabAction).join(", ")}`,
    );
  return found;
}

/** A duration flag in whole seconds ("30s", "2m", "45"). */
export function durationSeconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch {
    throw new UsageError(
      `invalid argument "${value}" for "--${flag}" flag: not a duration such as 30s or 2m`,
    );
  }
  if (ms % 1000 !== 0)
    throw new UsageError(
      `invalid argument "${value}" for "--${flag}" flag: must be a whole number of seconds`,
    );
  return ms / 1000;
}

function integer(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new UsageError(`invalid argument "${value}" for "--${flag}" flag: not an integer`);
  return Number(value);
}

export interface RunFlags {
  target?: string;
  name?: string;
  duration?: string;
  down?: string;
  interval?: string;
  total?: string;
  rate?: string;
  actions?: string;
  deployment?: string;
  service?: string;
  wait: boolean;
  /** Unset: the experiment's own length (as defaulted by the API) plus WAIT_SLACK_MS. */
  timeout?: string;
}

/** Time a controller may take beyond the run itself: creating its workload, pulling, settling. */
const WAIT_SLACK_MS = 10 * 60_000;

/** How long --wait waits by default: kill window, outage and RandomKill's soak, plus slack. */
export function defaultWaitMs(e: Experiment): number {
  const s = e.spec;
  const runSeconds = (s?.durationSeconds ?? 0) + (s?.downSeconds ?? 0) + (s?.totalSeconds ?? 0);
  return runSeconds * 1000 + WAIT_SLACK_MS;
}

/**
 * The Experiment `ktl chaos run ACTION` creates. Unset flags stay unset so the API's defaults
 * (per action) apply; ranges are the API's to check, so their errors name the spec fields.
 */
export function experimentFromFlags(actionName: string, flags: RunFlags, namespace: string): Experiment {
  const action = parseAction(actionName);
  const spec: Partial<ExperimentSpec> = { action, target: flags.target ?? "" };
  const set = <K extends keyof ExperimentSpec>(k: K, v: ExperimentSpec[K] | undefined) => {
    if (v !== undefined) spec[k] = v;
  };
  set("durationSeconds", durationSeconds("duration", flags.duration));
  set("downSeconds", durationSeconds("down", flags.down));
  set("intervalSeconds", durationSeconds("interval", flags.interval));
  set("totalSeconds", durationSeconds("total", flags.total));
  set("requestsPerSecond", integer("rate", flags.rate));
  if (flags.actions)
    spec.actions = flags.actions
      .split(",")
      .map((a) => a.trim())
      .filter(Boolean)
      .map(parseAction);
  if (flags.deployment || flags.service) {
    if (!flags.deployment || !flags.service)
      throw new UsageError("--deployment and --service name the workload together; give both or neither");
    spec.workload = {
      $type: "tskube.v1.ExperimentWorkload",
      namespace,
      deployment: flags.deployment,
      service: flags.service,
    };
  }
  return Experiment.fromPartial({
    metadata: flags.name
      ? { name: flags.name, namespace }
      : { generateName: `${kebabAction(action)}-`, namespace },
    spec,
  });
}

/** Follows one Experiment until its phase is final; resumes the watch when a stream breaks. */
async function waitForFinal(ctx: Context, created: Experiment, timeoutMs: number): Promise<Experiment> {
  const resource = ctx.client().resource<Experiment>("experiments");
  const name = created.metadata!.name;
  const namespace = created.metadata!.namespace;
  let last = "";
  const show = (e: Experiment) => {
    const phase = printing.experimentPhase(e);
    if (phase !== last) ctx.out(`experiment "${name}": ${phase}\n`);
    last = phase;
    return FINAL_PHASES.includes(phase);
  };
  let current = created;
  if (show(current)) return current;
  const ac = new AbortController();
  const timer = timeoutMs > 0 ? setTimeout(() => ac.abort(), timeoutMs) : undefined;
  try {
    let rv = current.metadata!.resourceVersion;
    while (!ac.signal.aborted) {
      try {
        for await (const ev of resource.watch({
          namespace,
          fieldSelector: `metadata.name=${name}`,
          resourceVersion: rv,
          allowWatchBookmarks: true,
          signal: ac.signal,
        })) {
          rv = ev.object.metadata?.resourceVersion || rv;
          if (ev.type === "BOOKMARK") continue;
          if (ev.type === "DELETED") throw new Error(`experiment "${name}" was deleted`);
          current = ev.object;
          if (show(current)) return current;
        }
      } catch (err) {
        const reason = (err as { reason?: string }).reason;
        if (ac.signal.aborted) break;
        if (reason === "Expired") {
          // Compacted past our revision: read the object again and watch on from it.
          current = await resource.get(name, { namespace });
          if (show(current)) return current;
          rv = current.metadata!.resourceVersion;
          continue;
        }
        if (reason !== "ServiceUnavailable") throw err;
      }
    }
    throw new Error(
      `timed out waiting for experiment "${name}" to finish (phase ${printing.experimentPhase(current)})`,
    );
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** A final experiment that failed: its verdict is Failed, or it could not run at all. */
export const experimentFailed = (e: Experiment): boolean =>
  e.status?.verdict === "Failed" || e.status?.phase === "Failed";

/** `ktl chaos run ACTION`: creates the Experiment; --wait follows it and prints describe. */
export async function chaosRun(ctx: Context, action: string, flags: RunFlags): Promise<void> {
  const exp = experimentFromFlags(action, flags, ctx.namespace);
  let timeoutMs: number | undefined;
  if (flags.timeout !== undefined) {
    try {
      timeoutMs = parseDuration(flags.timeout);
    } catch {
      throw new UsageError(
        `invalid argument "${flags.timeout}" for "--timeout" flag: not a duration such as 30s or 2m`,
      );
    }
  }
  const created = await ctx.client().resource<Experiment>("experiments").create(exp);
  ctx.out(`experiment.chaos.tskube.io/${created.metadata!.name} created\n`);
  if (!flags.wait) return;
  const done = await waitForFinal(ctx, created, timeoutMs ?? defaultWaitMs(created));
  ctx.out(`\n${await describeObject(ctx, experimentKind, done)}`);
  if (experimentFailed(done)) ctx.exitCode = 1;
}

export interface ReportFlags {
  format: string;
  file?: string;
}

/** `ktl chaos report NAME`: the status as JSON, or the HTML page with the chart. */
export async function chaosReport(ctx: Context, name: string, flags: ReportFlags): Promise<void> {
  if (flags.format !== "json" && flags.format !== "html")
    throw new UsageError(
      `unable to match a printer suitable for the output format "${flags.format}", allowed formats are: html,json`,
    );
  const exp = await ctx.client().resource<Experiment>("experiments").get(name, { namespace: ctx.namespace });
  const text = flags.format === "html" ? experimentReportHtml(exp) : experimentReportJson(exp);
  if (flags.file) {
    writeFileSync(flags.file, text);
    ctx.out(`wrote ${flags.file}\n`);
  } else ctx.out(text);
}

/** `ktl chaos run|report`, registered on the program by main.ts. */
export function registerChaos(
  program: Command,
  run: (fn: (ctx: Context) => Promise<void>) => Promise<void>,
): void {
  const chaos = program.command("chaos").description("Run chaos experiments and report on them");
  chaos
    .command("run")
    .description(
      "Create an Experiment that kills (or pauses) a component, e.g. `ktl chaos run node-kill --target node-2`",
    )
    .argument("<action>", `${EXPERIMENT_ACTIONS.map(kebabAction).join(", ")} (or as PascalCase)`)
    .option("--target <name>", "node, pod or component instance to hit (default: the controller picks)")
    .option("--name <name>", "the Experiment's name (default: the action and a random suffix)")
    .option("--duration <duration>", "observation window after the kill (e.g. 30s; default per action)")
    .option("--down <duration>", "how long a killed kubelet/node or paused node stays down (default 20s)")
    .option("--interval <duration>", "random-kill: time between kills (default 10s)")
    .option("--total <duration>", "random-kill: how long to keep killing (default 2m)")
    .option("--rate <n>", "requests per second sent to the workload's Service (default 20)")
    .option("--actions <list>", "random-kill: comma-separated actions to draw from (default every kill)")
    .option("--deployment <name>", "the workload's Deployment (with --service; default the controller's own)")
    .option("--service <name>", "the workload's NodePort Service")
    .option("--wait", "watch until the experiment finishes, print it, exit 1 on a Failed verdict", false)
    .option(
      "--timeout <duration>",
      "with --wait, how long to wait (0s: forever; default: the experiment's length plus 10m)",
    )
    .action((action: string, o: RunFlags) => run((ctx) => chaosRun(ctx, action, o)));
  chaos
    .command("report")
    .description("Write an experiment's report: its status as JSON, or an HTML page with a chart")
    .argument("<name>", "the Experiment")
    .option("-o, --format <format>", "json or html", "json")
    .option("--output <file>", "write the report to this file instead of stdout")
    .action((name: string, o: { format: string; output?: string }) =>
      run((ctx) => chaosReport(ctx, name, { format: o.format, ...(o.output ? { file: o.output } : {}) })),
    );
}
