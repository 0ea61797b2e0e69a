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

/** `ktl exec POD [-c C] -- CMD…`: the command's output, and its exit code as ktl's. */
export async function exec(
  ctx: Context,
  arg: string,
  command: string[],
  flags: { container?: string; stdin: boolean },
): Promise<void> {
  if (command.length === 0) throw new UsageError("you must specify at least one command for the container");
  const stdin = flags.stdin ? await readStdin() : undefined;
  let code = 0;
  for await (const msg of ctx.client().exec({
    namespace: ctx.namespace,
    name: podName(arg),
    container: flags.container ?? "",
    command,
    ...(stdin ? { stdin } : {}),
  })) {
    if (msg.stdout.length) process.stdout.write(msg.stdout);
    if (msg.stderr.length) process.stderr.write(msg.stderr);
    if (msg.exitCode !== undefined) code = msg.exitCode;
  }
  if (code !== 0) {
    process.stderr.write(`command terminated with exit code ${code}\n`);
    ctx.exitCode = code;
  }
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
