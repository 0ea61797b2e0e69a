import { Command, Option } from "commander";
import { apply } from "./commands/apply.js";
import { del } from "./commands/delete.js";
import { describe } from "./commands/describe.js";
import { type GetFlags, get } from "./commands/get.js";
import { apiResources, KTL_VERSION, version } from "./commands/info.js";
import { exec, logs } from "./commands/logs.js";
import { portForward } from "./commands/port-forward.js";
import { type Context, type GlobalFlags, makeContext } from "./context.js";
import { describeError } from "./errors.js";

/**
 * ktl: kubectl's verbs over tskube's gRPC API. Every command runs with a Context built from the
 * global flags; errors print as kubectl prints them and set the exit code to 1.
 */
const program = new Command();
program
  .name("ktl")
  .description("ktl controls the tskube cluster manager (kubectl's verbs over gRPC).")
  .version(KTL_VERSION, "--client-version")
  .option(
    "-s, --server <address>",
    "apiserver address(es), comma-separated (default: $TSKUBE_SERVER, ~/.tskube/config, 127.0.0.1:6443)",
  )
  .option("-n, --namespace <namespace>", "namespace scope for this request")
  .showHelpAfterError()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

async function run(fn: (ctx: Context) => Promise<void>): Promise<void> {
  const ctx = makeContext(program.opts<GlobalFlags>());
  try {
    await fn(ctx);
  } catch (err) {
    ctx.err(describeError(err));
  } finally {
    ctx.close();
  }
  process.exitCode = ctx.exitCode ?? (ctx.failed ? 1 : 0);
}

const collect = (v: string, prev: string[]) => [...prev, v];

program
  .command("apply")
  .description("Apply a configuration to a resource by file name or stdin")
  .requiredOption("-f, --filename <file>", "file, directory or - (stdin); repeatable", collect, [])
  .option("-R, --recursive", "process the directory used in -f recursively", false)
  .action((o: { filename: string[]; recursive: boolean }) =>
    run((ctx) => apply(ctx, o.filename, { recursive: o.recursive })),
  );

program
  .command("create")
  .description("Create a resource from a file or from stdin")
  .requiredOption("-f, --filename <file>", "file, directory or - (stdin); repeatable", collect, [])
  .option("-R, --recursive", "process the directory used in -f recursively", false)
  .action((o: { filename: string[]; recursive: boolean }) =>
    run((ctx) => apply(ctx, o.filename, { recursive: o.recursive, create: true })),
  );

program
  .command("get")
  .description("Display one or many resources")
  .argument("[resources...]", "TYPE[,TYPE...] [NAME...] or TYPE/NAME...")
  .option("-A, --all-namespaces", "list across all namespaces", false)
  .option("-l, --selector <selector>", "label selector (e.g. -l key1=value1,key2=value2)")
  .option("--field-selector <selector>", "field selector (e.g. --field-selector spec.nodeName=node-1)")
  .option("-o, --output <format>", "output format: wide|yaml|json|name", "")
  .option("--show-labels", "show all labels as the last column", false)
  .option("-w, --watch", "after listing, watch for changes", false)
  .option("--no-headers", "don't print headers")
  .option("--ignore-not-found", 'treat "resource not found" as a successful retrieval', false)
  .action((args: string[], o: Omit<GetFlags, "noHeaders"> & { headers: boolean }) =>
    run((ctx) => get(ctx, args, { ...o, noHeaders: !o.headers })),
  );

program
  .command("describe")
  .description("Show details of a specific resource or group of resources")
  .argument("<resources...>", "TYPE [NAME...] or TYPE/NAME")
  .option("-A, --all-namespaces", "describe across all namespaces", false)
  .option("-l, --selector <selector>", "label selector")
  .action((args: string[], o: { selector?: string; allNamespaces: boolean }) =>
    run((ctx) => describe(ctx, args, o)),
  );

program
  .command("delete")
  .description(
    "Delete resources by file names, stdin, resources and names, or by resources and label selector",
  )
  .argument("[resources...]", "TYPE[,TYPE...] NAME... or TYPE/NAME...")
  .option("-f, --filename <file>", "file, directory or - (stdin); repeatable", collect, [])
  .option("-R, --recursive", "process the directory used in -f recursively", false)
  .option("-l, --selector <selector>", "label selector")
  .option("--all", "delete all resources of the given types in the namespace", false)
  .option("-A, --all-namespaces", "with --all or -l, across all namespaces", false)
  .option(
    "--grace-period <seconds>",
    "seconds given to the resource to terminate gracefully (-1: its default)",
  )
  .addOption(new Option("--cascade <mode>", "background, foreground or orphan").default("background"))
  .option("--wait [bool]", "wait for resources to be gone before returning", "true")
  .option("--timeout <duration>", "how long to wait (0s: forever)", "0s")
  .option("--ignore-not-found", 'treat "resource not found" as a successful delete', false)
  .action((args: string[], o: Record<string, unknown>) =>
    run((ctx) =>
      del(ctx, args, {
        filename: o.filename as string[],
        recursive: o.recursive as boolean,
        selector: o.selector as string | undefined,
        all: o.all as boolean,
        allNamespaces: o.allNamespaces as boolean,
        gracePeriod: o.gracePeriod as string | undefined,
        cascade: String(o.cascade),
        wait: String(o.wait) !== "false",
        timeout: String(o.timeout),
        ignoreNotFound: o.ignoreNotFound as boolean,
      }),
    ),
  );

program
  .command("logs")
  .description("Print the logs for a container in a pod")
  .argument("<pod>", "POD or pod/POD")
  .option("-f, --follow", "stream the logs", false)
  .option("-c, --container <name>", "the container (optional with one container)")
  .option("-p, --previous", "the previous terminated instance of the container", false)
  .option("--tail <lines>", "lines of recent log to show (-1: all)")
  .action((pod: string, o: { follow: boolean; container?: string; previous: boolean; tail?: string }) =>
    run((ctx) => logs(ctx, pod, o)),
  );

program
  .command("exec")
  .description("Execute a command in a container")
  .argument("<pod>", "POD or pod/POD")
  .argument("[command...]", "the command and its arguments, after --")
  .option("-c, --container <name>", "the container (optional with one container)")
  .option("-i, --stdin", "pass stdin to the command", false)
  .option("-t, --tty", "allocate a TTY (with -i, when stdin is a terminal)", false)
  .action((pod: string, command: string[], o: { container?: string; stdin: boolean; tty: boolean }) =>
    run((ctx) => exec(ctx, pod, command, o)),
  );

program
  .command("port-forward")
  .description("Forward one or more local ports to a pod")
  .argument("<pod>", "POD or pod/POD")
  .argument("<ports...>", "[LOCAL:]REMOTE port pairs (LOCAL 0 picks a free port)")
  .option("--address <address>", "the local address to listen on", "127.0.0.1")
  .action((pod: string, ports: string[], o: { address: string }) =>
    run((ctx) => portForward(ctx, pod, ports, o)),
  );

program
  .command("version")
  .description("Print the client and server version information")
  .action(() => run(version));
program
  .command("api-resources")
  .description("Print the supported API resources on the server")
  .action(() => run(apiResources));

program.parseAsync(process.argv).catch((err) => {
  process.stderr.write(`${describeError(err)}\n`);
  process.exitCode = 1;
});
