import { type ConfigMap, type Lease, printing } from "@tskube/api";
import { type Client, createClient } from "@tskube/client";
import {
  formatTiming,
  isNotFound,
  leaderDeathWorstCase,
  nodeDeathWorstCase,
  parseTimingProfile,
  profileValue,
  sameTiming,
  TIMING_CONFIGMAP,
  TIMING_PROFILE_ANNOTATION,
  TIMING_VALUES_ANNOTATION,
  TIMINGS,
  type TimedComponent,
  type TimingLookup,
  type TimingProfile,
  type TimingSetting,
  timingNumber,
} from "@tskube/machinery";
import type { Command } from "commander";
import type { Context } from "../context.js";
import { describeError, UsageError } from "../errors.js";

/** Leader-election Leases of the control plane (kube-system). */
const LEADER_LEASES = {
  scheduler: "kube-scheduler",
  "controller-manager": "kube-controller-manager",
} as const;
const NODE_LEASE_NAMESPACE = "kube-node-lease";

/** One component instance's record, as the API shows it. */
export interface TimingSource {
  component: TimedComponent;
  /** Where it was read: "configmap kube-system/tskube-timing", "lease kube-node-lease/node-1". */
  where: string;
  profile?: string;
  values: Record<string, string>;
}

/** What `ktl explain timing` found in a cluster (nothing when it could not reach one). */
export interface LiveTiming {
  sources: TimingSource[];
}

function parseValues(text: string | undefined): Record<string, string> {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === "object" && !Array.isArray(v))
      return Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === "string")) as Record<
        string,
        string
      >;
  } catch {
    // A hand-edited annotation: treat as absent rather than failing the whole command.
  }
  return {};
}

/**
 * A Lease's record: its annotations, and what its spec shows even without them (a held Lease's
 * leaseDurationSeconds is the holder's setting; a released one says 1 s and tells nothing).
 */
function leaseSource(component: TimedComponent, lease: Lease): TimingSource {
  const m = lease.metadata;
  const values = parseValues(m?.annotations[TIMING_VALUES_ANNOTATION]);
  const held = !!lease.spec?.holderIdentity;
  const seconds = lease.spec?.leaseDurationSeconds;
  if (held && seconds) {
    if (component === "kubelet") values["node-lease-duration-seconds"] ??= String(seconds);
    else values["leader-elect-lease-duration"] ??= `${seconds}s`;
  }
  const holder = component === "kubelet" || !held ? "" : ` (holder ${lease.spec!.holderIdentity})`;
  const profile = m?.annotations[TIMING_PROFILE_ANNOTATION];
  return {
    component,
    where: `lease ${m?.namespace}/${m?.name}${holder}`,
    ...(profile ? { profile } : {}),
    values,
  };
}

/** Reads every record the cluster has: the apiserver's ConfigMap, the leader and node Leases. */
export async function readLiveTiming(client: Client): Promise<LiveTiming> {
  const sources: TimingSource[] = [];
  const { namespace, name } = TIMING_CONFIGMAP;
  try {
    const cm = await client.resource<ConfigMap>("configmaps").get(name, { namespace });
    const { profile, ...values } = cm.data;
    sources.push({
      component: "apiserver",
      where: `configmap ${namespace}/${name}`,
      ...(profile ? { profile } : {}),
      values,
    });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const leases = client.resource<Lease>("leases");
  for (const [component, lease] of Object.entries(LEADER_LEASES) as [TimedComponent, string][]) {
    try {
      sources.push(leaseSource(component, await leases.get(lease, { namespace: "kube-system" })));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  const nodes = await leases.list({ namespace: NODE_LEASE_NAMESPACE });
  for (const l of [...nodes.items].sort((a, b) => a.metadata!.name.localeCompare(b.metadata!.name)))
    sources.push(leaseSource("kubelet", l));
  return { sources };
}

/** The profile to compare with: the one asked for, else the apiserver's, else any component's. */
export function referenceProfile(live: LiveTiming | undefined, asked?: TimingProfile): TimingProfile {
  if (asked) return asked;
  const recorded =
    live?.sources.find((s) => s.component === "apiserver" && s.profile)?.profile ??
    live?.sources.find((s) => s.profile)?.profile;
  try {
    return parseTimingProfile(recorded ?? "upstream");
  } catch {
    return "upstream";
  }
}

export interface TimingRow {
  setting: TimingSetting;
  /** The value in effect: the live one where the API shows it, else the profile's. */
  value: string;
  /** Where the value comes from ("profile" when no running component shows it). */
  source: string;
  /** Live values that are not the reference profile's (or that disagree among instances). */
  differs: boolean;
}

/** One row per timer: live values where components recorded them, else the reference profile's. */
export function timingRows(live: LiveTiming | undefined, profile: TimingProfile): TimingRow[] {
  return TIMINGS.map((t) => {
    const expected = profileValue(t, profile);
    const seen = (live?.sources ?? [])
      .filter((s) => s.component === t.component && s.values[t.flag] !== undefined)
      .map((s) => ({ where: s.where, value: s.values[t.flag]! }));
    if (seen.length === 0) return { setting: t, value: expected, source: "profile", differs: false };
    const distinct = seen.filter((s, i) => seen.findIndex((x) => sameTiming(t, x.value, s.value)) === i);
    const differs = distinct.length > 1 || !sameTiming(t, distinct[0]!.value, expected);
    const where = seen.length === 1 ? seen[0]!.where : `${seen[0]!.where} (+${seen.length - 1} more)`;
    if (distinct.length === 1) return { setting: t, value: distinct[0]!.value, source: where, differs };
    return {
      setting: t,
      value: seen.map((s) => `${s.value} (${s.where.replace(/^lease [^/]+\//, "")})`).join(", "),
      source: `${seen.length} instances disagree`,
      differs: true,
    };
  });
}

/** Worst cases computed from the live values; where instances disagree, the slowest one counts. */
function liveLookup(live: LiveTiming | undefined, profile: TimingProfile): TimingLookup {
  return (component, flag) => {
    const t = TIMINGS.find((x) => x.component === component && x.flag === flag)!;
    const values = (live?.sources ?? [])
      .filter((s) => s.component === component && s.values[flag] !== undefined)
      .map((s) => s.values[flag]!);
    if (values.length === 0) return profileValue(t, profile);
    // The longest timer, or the lowest eviction rate; a value that does not parse counts least.
    const slowness = (v: string) => {
      try {
        const n = timingNumber(t, v);
        return t.unit === "rate" ? -n : n;
      } catch {
        return Number.NEGATIVE_INFINITY;
      }
    };
    return values.reduce((a, b) => (slowness(b) > slowness(a) ? b : a));
  };
}

/** The whole printout of `ktl explain timing`. */
export function explainTiming(live: LiveTiming | undefined, profile: TimingProfile, asked: boolean): string {
  const rows = timingRows(live, profile);
  const lines: string[] = [];
  if (!live) {
    lines.push(`Timing profile: ${profile} (no cluster reached: the profile's values)`);
  } else {
    const apiserver = live.sources.find((s) => s.component === "apiserver");
    lines.push(
      `Timing profile: ${profile} (${
        asked
          ? "as asked; compared with the running cluster"
          : apiserver
            ? `recorded in ${apiserver.where}`
            : "no component recorded one"
      })`,
    );
    const byComponent = new Map<string, TimingSource[]>();
    for (const s of live.sources) byComponent.set(s.component, [...(byComponent.get(s.component) ?? []), s]);
    const summary: string[] = [];
    for (const c of ["apiserver", "scheduler", "controller-manager", "kubelet"]) {
      const list = byComponent.get(c) ?? [];
      const profiles = [...new Set(list.map((s) => s.profile ?? "not recorded"))];
      const where =
        list.length === 1 ? list[0]!.where : list.length ? `${list.length} node leases` : "not found";
      summary.push(`  ${c}\t${list.length ? profiles.join(", ") : "-"}\t${where}`);
    }
    lines.push(printing.tabwrite(summary.join("\n")));
  }
  lines.push("");
  const head = [
    "COMPONENT",
    "SETTING",
    "FLAG",
    "VALUE",
    ...(profile === "upstream" ? [] : [profile.toUpperCase()]),
    "UPSTREAM",
    "SOURCE",
  ];
  const table = [head.join("\t")];
  for (const r of rows) {
    const t = r.setting;
    table.push(
      [
        t.component,
        t.setting,
        `--${t.flag}`,
        `${r.value}${r.differs ? " *" : ""}`,
        ...(profile === "upstream" ? [] : [profileValue(t, profile)]),
        t.upstream,
        r.source,
      ].join("\t"),
    );
  }
  lines.push(printing.tabwrite(table.join("\n")));
  if (rows.some((r) => r.differs))
    lines.push(
      `* not the ${profile} profile's value (set by a flag or environment variable), or instances disagree`,
    );
  lines.push("");

  const lookup = liveLookup(live, profile);
  const node = nodeDeathWorstCase(lookup);
  const upstream = nodeDeathWorstCase((c, f) =>
    profileValue(TIMINGS.find((t) => t.component === c && t.flag === f)!, "upstream"),
  );
  const rate = Number(lookup("controller-manager", "node-eviction-rate"));
  lines.push(
    `Worst case from a node's death to its pods running elsewhere: ${formatTiming(node.totalMs)} of timers${
      profile === "upstream" && !rows.some((r) => r.differs)
        ? ""
        : ` (upstream ${formatTiming(upstream.totalMs)})`
    }, plus the work of scheduling and starting the pods`,
  );
  lines.push(
    printing.tabwrite(
      node.steps
        .map((s) => {
          const flags = s.flags.map((f) => `--${f}`).join(", ");
          const more =
            s.flags[0] === "node-eviction-rate"
              ? `each further node of the zone +${rate > 0 ? formatTiming(1000 / rate) : "never"} (--node-eviction-rate)`
              : flags || "-";
          return `  ${formatTiming(s.ms)}\t${s.step}\t${more}`;
        })
        .join("\n"),
    ),
  );
  lines.push("Worst case from a leader's death to its standby acting:");
  lines.push(
    printing.tabwrite(
      (["scheduler", "controller-manager"] as const)
        .map((c) => {
          const w = leaderDeathWorstCase(lookup, c);
          return `  ${c}\t${formatTiming(w.totalMs)}\t(${w.steps.map((s) => `${formatTiming(s.ms)} ${s.flags.map((f) => `--${f}`).join("")}`).join(" + ")})`;
        })
        .join("\n"),
    ),
  );
  return `${lines.join("\n")}\n`;
}

export type Runner = (fn: (ctx: Context) => Promise<void>) => Promise<void>;

/** `ktl explain timing [--profile fast|upstream]`. */
export function registerExplain(program: Command, run: Runner): void {
  program
    .command("explain")
    .description(
      "Explain a tskube topic (timing: the recovery timers in effect and the worst-case recovery times)",
    )
    .argument("<topic>", "timing")
    .option(
      "--profile <profile>",
      "compare with this timing profile (fast|upstream); without a cluster, print it",
    )
    .action((topic: string, o: { profile?: string }) =>
      run(async (ctx) => {
        if (topic !== "timing") throw new UsageError(`unknown topic "${topic}": supported topics: timing`);
        let asked: TimingProfile | undefined;
        if (o.profile !== undefined) {
          try {
            asked = parseTimingProfile(o.profile);
          } catch {
            throw new UsageError(
              `invalid argument "${o.profile}" for "--profile" flag: must be one of "fast", "upstream"`,
            );
          }
        }
        // A short deadline: with --profile, an unreachable cluster only means "print the profile".
        const client = createClient({
          servers: ctx.config.servers,
          timeoutMs: 3_000,
          retries: 1,
          userAgent: "ktl",
        });
        let live: LiveTiming | undefined;
        try {
          live = await readLiveTiming(client);
        } catch (err) {
          if (asked) live = undefined;
          else {
            ctx.err(describeError(err));
            ctx.err(
              "(without a cluster, `ktl explain timing --profile fast|upstream` prints a profile's values)",
            );
            return;
          }
        } finally {
          client.close();
        }
        ctx.out(explainTiming(live, referenceProfile(live, asked), asked !== undefined));
      }),
    );
}
