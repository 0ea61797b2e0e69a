import { spawn } from "node:child_process";

/** The xtables lock wait, as Kubernetes' iptables helper (-w 5): Docker and kubelets share the tables. */
export const XTABLES_WAIT = ["-w", "5"];

/** Runs a command with optional stdin; resolves with stdout, rejects with its stderr. */
export function run(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString());
      else
        reject(
          new Error(`${command} ${args.join(" ")}: exit ${code}: ${Buffer.concat(err).toString().trim()}`),
        );
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
  });
}

/** What the iptables proxier needs from the system; tests and the netns runs use the real one. */
export interface IptablesRunner {
  restore(text: string): Promise<void>;
  save(table: "nat" | "filter"): Promise<string>;
  /** True when the rule exists (`iptables -C`). */
  check(table: string, chain: string, args: string[]): Promise<boolean>;
  insert(table: string, chain: string, args: string[]): Promise<void>;
}

export const systemIptables: IptablesRunner = {
  async restore(text) {
    // --noflush: only the chains the text declares are rewritten; Docker's and others' stay.
    await run("iptables-restore", [...XTABLES_WAIT, "--noflush"], text);
  },
  save: (table) => run("iptables-save", ["-t", table]),
  check: (table, chain, args) =>
    run("iptables", [...XTABLES_WAIT, "-t", table, "-C", chain, ...args]).then(
      () => true,
      () => false,
    ),
  async insert(table, chain, args) {
    await run("iptables", [...XTABLES_WAIT, "-t", table, "-I", chain, "1", ...args]);
  },
};

/** Chain names declared in iptables-save output (`:NAME POLICY [p:b]`). */
export function savedChains(save: string): string[] {
  const out: string[] = [];
  for (const line of save.split("\n")) if (line.startsWith(":")) out.push(line.slice(1).split(" ")[0]!);
  return out;
}
