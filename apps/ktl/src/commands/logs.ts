import { ExecStreamRequest, type ExecStreamResponse } from "@tskube/api";
import { fromServiceError } from "@tskube/client";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";

/** Accepts "pod", "pod/name" or "po/name" (kubectl logs takes TYPE/NAME for pods). */
function podName(arg: string): string {
  const [type, name] = arg.includes("/") ? arg.split("/") : ["pod", arg];
  if (!name || !["pod", "pods", "po"].includes(type!))
    throw new UsageError(`cannot get the logs of ${arg}: only pods have logs here`);
  return name;
}

/** `ktl logs [-f] [-c C] [--previous] [--tail N] POD`. */
export async function logs(
  ctx: Context,
  arg: string,
  flags: { follow: boolean; container?: string; previous: boolean; tail?: string },
): Promise<void> {
  const tail = flags.tail !== undefined ? Number(flags.tail) : undefined;
  if (tail !== undefined && (!Number.isInteger(tail) || tail < -1))
    throw new UsageError(`invalid --tail ${flags.tail}`);
  const ac = new AbortController();
  process.once("SIGINT", () => ac.abort());
  for await (const chunk of ctx.client().logs({
    namespace: ctx.namespace,
    name: podName(arg),
    container: flags.container ?? "",
    follow: flags.follow,
    previous: flags.previous,
    ...(tail !== undefined && tail >= 0 ? { tailLines: tail } : {}),
    signal: ac.signal,
  })) {
    process.stdout.write(chunk);
  }
}

/**
 * `ktl exec POD [-c C] [-i] [-t] -- CMD…`: runs the command in the container over one bidirectional
 * stream (through the apiserver to the pod's kubelet). -i streams stdin as it is read and its end
 * as the command's end of input; -t with -i on a terminal allocates a TTY, puts this terminal in raw
 * mode (Ctrl-C and Ctrl-D go to the command) and forwards its size on every resize. ktl exits with
 * the command's exit code.
 */
export async function exec(
  ctx: Context,
  arg: string,
  command: string[],
  flags: { container?: string; stdin: boolean; tty: boolean },
): Promise<void> {
  if (command.length === 0) throw new UsageError("you must specify at least one command for the container");
  const input = process.stdin;
  // As kubectl: a TTY needs -i (something must drive it) and input that is a terminal.
  let tty = flags.tty && flags.stdin;
  if (tty && !input.isTTY) {
    process.stderr.write("Unable to use a TTY - input is not a terminal or the right kind of file\n");
    tty = false;
  }
  const size = () => ({ width: process.stdout.columns ?? 0, height: process.stdout.rows ?? 0 });
  const stream = ctx.client().execStream();
  stream.write(
    ExecStreamRequest.fromPartial({
      start: {
        namespace: ctx.namespace,
        name: podName(arg),
        container: flags.container ?? "",
        command,
        stdin: flags.stdin,
        tty,
        ...(tty ? { size: size() } : {}),
      },
    }),
  );
  const onResize = () => stream.write(ExecStreamRequest.fromPartial({ resize: size() }));
  const onData = (d: Buffer) => stream.write(ExecStreamRequest.fromPartial({ stdin: d }));
  const onEnd = () => stream.write(ExecStreamRequest.fromPartial({ closeStdin: true }));
  if (tty) {
    input.setRawMode(true);
    process.stdout.on("resize", onResize);
  }
  if (flags.stdin) {
    input.on("data", onData);
    input.once("end", onEnd);
  }
  let code = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      stream.on("data", (m: ExecStreamResponse) => {
        if (m.stdout.length) process.stdout.write(m.stdout);
        if (m.stderr.length) process.stderr.write(m.stderr);
        if (m.exitCode !== undefined) code = m.exitCode;
      });
      stream.on("end", () => resolve());
      // The kubelet's status (NotFound, BadRequest, …) prints as kubectl prints it.
      stream.on("error", (err) => reject(fromServiceError(err)));
    });
  } finally {
    if (tty) {
      input.setRawMode(false);
      process.stdout.off("resize", onResize);
    }
    if (flags.stdin) {
      input.off("data", onData);
      input.off("end", onEnd);
      // Unread input would keep ktl alive after the command is gone.
      input.destroy();
    }
    stream.end();
  }
  if (code !== 0) {
    process.stderr.write(`command terminated with exit code ${code}\n`);
    ctx.exitCode = code;
  }
}
