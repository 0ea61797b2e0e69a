import { type KindDefinition, type KubeObject, printing } from "@tskube/api";
import type { Context } from "../context.js";
import { resolveKind } from "../context.js";
import { describeError, UsageError } from "../errors.js";
import {
  kindLabel,
  type OutputFormat,
  type PrintOptions,
  printNames,
  printStructured,
  printTable,
  tableRows,
} from "../printers/print.js";

export interface GetFlags {
  allNamespaces: boolean;
  selector?: string;
  fieldSelector?: string;
  output: string;
  showLabels: boolean;
  watch: boolean;
  noHeaders: boolean;
  ignoreNotFound: boolean;
}

const FORMATS: OutputFormat[] = ["", "wide", "yaml", "json", "name"];

/** `ktl get KIND[,KIND] [NAME...]` with kubectl's tables and formats. */
export async function get(ctx: Context, args: string[], flags: GetFlags): Promise<void> {
  if (args.length === 0) {
    throw new UsageError(
      'you must specify the type of resource to get. Use "ktl api-resources" for a complete list of supported resources.',
    );
  }
  const output = flags.output as OutputFormat;
  if (!FORMATS.includes(output)) {
    throw new UsageError(
      `unable to match a printer suitable for the output format "${flags.output}", allowed formats are: json,name,wide,yaml`,
    );
  }
  // "deploy,svc" or "pod/web" forms.
  let kinds: KindDefinition[];
  let names: string[] = [];
  if (args[0]!.includes("/")) {
    const pairs = args.map((a) => {
      const [k, n] = a.split("/");
      if (!k || !n)
        throw new UsageError(
          `there is no need to specify a resource type as a separate argument when passing arguments in resource/name form`,
        );
      return [resolveKind(k), n] as const;
    });
    kinds = [...new Set(pairs.map(([k]) => k))];
    names = pairs.map(([, n]) => n);
  } else {
    // "all" is kubectl's category of the workload kinds users look at together.
    kinds = args[0]!
      .split(",")
      .filter(Boolean)
      .flatMap((k) => (k === "all" ? ["pods", "services", "deployments", "replicasets"] : [k]))
      .map(resolveKind);
    names = args.slice(1);
  }
  const now = Date.now();
  const opts: PrintOptions = {
    output,
    showLabels: flags.showLabels,
    allNamespaces: flags.allNamespaces,
    showKind: kinds.length > 1,
    noHeaders: flags.noHeaders,
    now,
  };
  const namespace = flags.allNamespaces ? "" : ctx.namespace;
  const results: { kind: KindDefinition; items: KubeObject[] }[] = [];
  for (const kind of kinds) {
    const resource = ctx.client().resource(kind);
    const items: KubeObject[] = [];
    if (names.length) {
      for (const name of names) {
        try {
          items.push(await resource.get(name, { namespace }));
        } catch (err) {
          if (!(flags.ignoreNotFound && (err as { reason?: string }).reason === "NotFound"))
            ctx.err(describeError(err));
        }
      }
    } else {
      const list = await resource.listAll({
        namespace,
        labelSelector: flags.selector ?? "",
        fieldSelector: flags.fieldSelector ?? "",
      });
      items.push(...list.items);
    }
    results.push({ kind, items });
  }
  const all = results.flatMap((r) => r.items);
  if (output === "yaml" || output === "json") {
    if (all.length || !names.length)
      ctx.out(printStructured(all, output, names.length === 1 && kinds.length === 1));
  } else if (output === "name") {
    for (const r of results) ctx.out(printNames(r.kind, r.items));
  } else {
    const tables = results.filter((r) => r.items.length).map((r) => printTable(r.kind, r.items, opts));
    ctx.out(tables.join("\n"));
    if (all.length === 0 && names.length === 0) {
      process.stderr.write(
        flags.allNamespaces || !kinds.some((k) => k.namespaced)
          ? "No resources found\n"
          : `No resources found in ${ctx.namespace} namespace.\n`,
      );
    }
  }
  if (flags.watch) await watch(ctx, kinds, results, names, opts, flags, namespace);
}

async function watch(
  ctx: Context,
  kinds: KindDefinition[],
  results: { kind: KindDefinition; items: KubeObject[] }[],
  names: string[],
  opts: PrintOptions,
  flags: GetFlags,
  namespace: string,
): Promise<void> {
  if (kinds.length !== 1) throw new UsageError("you may only specify a single resource type");
  const kind = kinds[0]!;
  const ac = new AbortController();
  process.once("SIGINT", () => ac.abort());
  let rv = "";
  for (const item of results[0]!.items) {
    const v = item.metadata?.resourceVersion ?? "";
    if (Number(v) > Number(rv || 0)) rv = v;
  }
  const list = await ctx.client().resource(kind).list({ namespace, limit: 1 });
  rv = list.resourceVersion;
  while (!ac.signal.aborted) {
    try {
      for await (const ev of ctx
        .client()
        .resource(kind)
        .watch({
          namespace,
          labelSelector: flags.selector ?? "",
          fieldSelector: flags.fieldSelector ?? "",
          resourceVersion: rv,
          signal: ac.signal,
        })) {
        rv = ev.object.metadata?.resourceVersion ?? rv;
        if (ev.type === "BOOKMARK") continue;
        if (names.length && !names.includes(ev.object.metadata?.name ?? "")) continue;
        const now = { ...opts, now: Date.now() };
        if (opts.output === "name") ctx.out(printNames(kind, [ev.object]));
        else if (opts.output === "yaml" || opts.output === "json")
          ctx.out(printStructured([ev.object], opts.output, true));
        else ctx.out(printing.formatTable(undefined, tableRows(kind, [ev.object], now)));
      }
    } catch (err) {
      if (ac.signal.aborted) break;
      if ((err as { reason?: string }).reason === "Expired") {
        rv = (await ctx.client().resource(kind).list({ namespace, limit: 1 })).resourceVersion;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  void kindLabel;
}
