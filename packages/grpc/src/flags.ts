import { parseArgs } from "node:util";

/** A command-line flag of a tskube process: its environment variable and its default. */
export interface FlagSpec {
  env: string;
  default: string;
}

export function flagsUsage(component: string, spec: Record<string, FlagSpec>): string {
  return `usage: ${component} [flags]\n${Object.entries(spec)
    .map(([name, f]) => `  --${name} (env ${f.env}, default ${JSON.stringify(f.default)})`)
    .join("\n")}`;
}

/**
 * Reads every flag from `--name value`, else its TSKUBE_* environment variable, else its default
 * (the way compose configures components). `--help` prints the list and exits; an unknown flag
 * throws with the usage.
 */
export function readFlags<F extends Record<string, FlagSpec>>(
  component: string,
  spec: F,
  argv: string[] = process.argv.slice(2),
): Record<keyof F, string> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        ...Object.fromEntries(Object.keys(spec).map((k) => [k, { type: "string" as const }])),
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${flagsUsage(component, spec)}`);
  }
  if (values.help) {
    console.log(flagsUsage(component, spec));
    process.exit(0);
  }
  const out = {} as Record<keyof F, string>;
  for (const [name, f] of Object.entries(spec) as [keyof F & string, FlagSpec][]) {
    out[name] = ((values[name] as string | undefined) ?? process.env[f.env] ?? f.default).trim();
  }
  return out;
}
