import { Command, Option } from "commander";
import { apply } from "./commands/apply.js";
import { registerChaos } from "./commands/chaos.js";
import { del } from "./commands/delete.js";
import { describe } from "./commands/describe.js";
import { edit } from "./commands/edit.js";
import { registerExplain } from "./commands/explain.js";
import { type GetFlags, get } from "./commands/get.js";
import { apiResources, KTL_VERSION, version } from "./commands/info.js";
import { editMetadataMap } from "./commands/label.js";
import { exec, logs } from "./commands/logs.js";
import { portForward } from "./commands/port-forward.js";
import {
  rolloutHistory,
  rolloutPause,
  rolloutRestart,
  rolloutStatus,
  rolloutUndo,
} from "./commands/rollout.js";
import { scale } from "./commands/scale.js";
import { setImage } from "./commands/set-image.js";
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

/**
 * A command whose work is still pending when nothing is left to wake it (a promise no timer or
 * socket will ever settle) would otherwise end the process with exit code 0 and no output.
 */
function failIfAbandoned(): void {
  process.stderr.write("error: ktl stopped with its request unfinished (no connection left to answer it)\n");
  process.exitCode = 1;
}

async function run(fn: (ctx: Context) => Promise<void>): Promise<void> {
  const ctx = makeContext(program.opts<GlobalFlags>());
  process.once("beforeExit", failIfAbandoned);
  try {
    await fn(ctx);
  } catch (err) {
    ctx.err(describeError(err));
  } finally {
    ctx.close();
    process.off("beforeExit", failIfAbandoned);
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
  .argument("<pod>", "POD, pod/POD, svc/NAME, deployment/NAME or rs/NAME")
  .argument("<ports...>", "[LOCAL:]REMOTE port pairs (LOCAL 0 picks a free port)")
  .option("--address <address>", "the local address to listen on", "127.0.0.1")
  .option("--pod-running-timeout <duration>", "how long to wait for a pod of the selector", "1m0s")
  .action((pod: string, ports: string[], o: { address: string; podRunningTimeout: string }) =>
    run((ctx) => portForward(ctx, pod, ports, o)),
  );

for (const [verb, field, what] of [
  ["label", "labels", "Update the labels on a resource"],
  ["annotate", "annotations", "Update the annotations on a resource"],
] as const) {
  program
    .command(verb)
    .description(what)
    .argument("<args...>", `TYPE NAME... | TYPE/NAME... then KEY=VALUE... and KEY-... (remove)`)
    .option("--overwrite", "allow changing a key that already has a value", false)
    .option("--list", `list the ${field} instead of changing them`, false)
    .option("-l, --selector <selector>", "label selector")
    .option("--all", "every resource of the type in the namespace", false)
    .option("-A, --all-namespaces", "with --all or -l, across all namespaces", false)
    .option("-f, --filename <file>", "file, directory or - (stdin); repeatable", collect, [])
    .option("--resource-version <version>", "only change the object if it is at this version")
    .action((args: string[], o: Record<string, unknown>) =>
      run((ctx) =>
        editMetadataMap(ctx, field, args, {
          overwrite: o.overwrite as boolean,
          list: o.list as boolean,
          selector: o.selector as string | undefined,
          all: o.all as boolean,
          allNamespaces: o.allNamespaces as boolean,
          filename: o.filename as string[],
          resourceVersion: o.resourceVersion as string | undefined,
        }),
      ),
    );
}

program
  .command("scale")
  .description("Set a new size for a deployment or replica set")
  .argument("[resources...]", "TYPE NAME... or TYPE/NAME...")
  .option("--replicas <count>", "the new desired number of replicas")
  .option("--current-replicas <count>", "precondition: the current size must be this (-1: no check)")
  .option("--resource-version <version>", "precondition: the object must be at this version")
  .option("-f, --filename <file>", "file, directory or - (stdin); repeatable", collect, [])
  .option("-l, --selector <selector>", "label selector")
  .option("--all", "every resource of the type in the namespace", false)
  .action((args: string[], o: Record<string, unknown>) =>
    run((ctx) =>
      scale(ctx, args, {
        replicas: o.replicas as string | undefined,
        currentReplicas: o.currentReplicas as string | undefined,
        resourceVersion: o.resourceVersion as string | undefined,
        filename: o.filename as string[],
        selector: o.selector as string | undefined,
        all: o.all as boolean,
      }),
    ),
  );

const set = program.command("set").description("Set specific features on objects");
set
  .command("image")
  .description("Update the images of a pod template")
  .argument("<args...>", "TYPE NAME... | TYPE/NAME... then CONTAINER=IMAGE... (*=IMAGE: every container)")
  .option("-l, --selector <selector>", "label selector")
  .option("--all", "every resource of the type in the namespace", false)
  .option("-f, --filename <file>", "file, directory or - (stdin); repeatable", collect, [])
  .action((args: string[], o: Record<string, unknown>) =>
    run((ctx) =>
      setImage(ctx, args, {
        selector: o.selector as string | undefined,
        all: o.all as boolean,
        filename: o.filename as string[],
      }),
    ),
  );

program
  .command("edit")
  .description("Edit a resource on the server in $KUBE_EDITOR or $EDITOR")
  .argument("[resources...]", "TYPE NAME or TYPE/NAME")
  .option("-o, --output <format>", "the format to edit in: yaml or json", "yaml")
  .option("-f, --filename <file>", "file, directory or - (stdin); repeatable", collect, [])
  .action((args: string[], o: { output: string; filename: string[] }) =>
    run((ctx) => edit(ctx, args, { output: o.output, filename: o.filename })),
  );

const rollout = program.command("rollout").description("Manage the rollout of a deployment");
rollout
  .command("status")
  .description("Show the status of the rollout")
  .argument("<resource...>", "TYPE NAME or TYPE/NAME")
  .option("-w, --watch [bool]", "watch the status until the rollout is done", "true")
  .option("--timeout <duration>", "how long to watch before giving up (0s: forever)", "0s")
  .option("--revision <n>", "pin to a specific revision")
  .action((args: string[], o: { watch: string | boolean; timeout: string; revision?: string }) =>
    run((ctx) =>
      rolloutStatus(ctx, args, {
        watch: String(o.watch) !== "false",
        timeout: o.timeout,
        revision: o.revision,
      }),
    ),
  );
rollout
  .command("history")
  .description("View rollout history")
  .argument("<resource...>", "TYPE NAME or TYPE/NAME")
  .option("--revision <n>", "show the details of this revision")
  .action((args: string[], o: { revision?: string }) => run((ctx) => rolloutHistory(ctx, args, o)));
rollout
  .command("undo")
  .description("Undo a previous rollout")
  .argument("<resource...>", "TYPE NAME or TYPE/NAME")
  .option("--to-revision <n>", "the revision to roll back to (default: the previous one)", "0")
  .action((args: string[], o: { toRevision?: string }) => run((ctx) => rolloutUndo(ctx, args, o)));
rollout
  .command("restart")
  .description("Restart a resource: its pods are replaced by a rollout")
  .argument("<resource...>", "TYPE NAME or TYPE/NAME")
  .action((args: string[]) => run((ctx) => rolloutRestart(ctx, args)));
rollout
  .command("pause")
  .description("Mark the provided resource as paused")
  .argument("<resource...>", "TYPE NAME or TYPE/NAME")
  .action((args: string[]) => run((ctx) => rolloutPause(ctx, args, true)));
rollout
  .command("resume")
  .description("Resume a paused resource")
  .argument("<resource...>", "TYPE NAME or TYPE/NAME")
  .action((args: string[]) => run((ctx) => rolloutPause(ctx, args, false)));

program
  .command("version")
  .description("Print the client and server version information")
  .action(() => run(version));
program
  .command("api-resources")
  .description("Print the supported API resources on the server")
  .action(() => run(apiResources));

registerChaos(program, run);

registerExplain(program, run);

program.parseAsync(process.argv).catch((err) => {
  process.stderr.write(`${describeError(err)}\n`);
  process.exitCode = 1;
});
