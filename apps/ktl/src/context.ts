import { KINDS, type KindDefinition, kindForAlias } from "@tskube/api";
import { type Client, createClient } from "@tskube/client";
import { type KtlConfig, loadConfig } from "./config.js";
import { UsageError } from "./errors.js";

export interface GlobalFlags {
  server?: string;
  namespace?: string;
}

/** What every command needs: the client, the namespace, and where output goes. */
export interface Context {
  config: KtlConfig;
  namespace: string;
  /** -n was given explicitly. */
  namespaceExplicit: boolean;
  client(): Client;
  out(text: string): void;
  err(text: string): void;
  close(): void;
  /** An error was printed (exit code 1). */
  failed: boolean;
  /** An exit code to pass through (ktl exec exits with its command's code). */
  exitCode?: number;
}

export function makeContext(flags: GlobalFlags): Context {
  const config = loadConfig(flags);
  let client: Client | undefined;
  const ctx: Context = {
    config,
    namespace: config.namespace,
    namespaceExplicit: !!flags.namespace,
    client() {
      client ??= createClient({ servers: config.servers, timeoutMs: 30_000, retries: 3, userAgent: "ktl" });
      return client;
    },
    out: (text) => process.stdout.write(text),
    err: (text) => {
      ctx.failed = true;
      process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
    },
    close: () => client?.close(),
    failed: false,
  };
  return ctx;
}

/** "po", "pods", "deployment.apps", "svc" → the kind; kubectl's error otherwise. */
export function resolveKind(name: string): KindDefinition {
  const k = kindForAlias(name);
  if (!k) throw new UsageError(`the server doesn't have a resource type "${name}"`);
  return k;
}

export { KINDS };
