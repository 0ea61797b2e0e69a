import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";

export const DEFAULT_SERVER = "127.0.0.1:6443";

export interface KtlConfig {
  servers: string[];
  namespace: string;
  /** Where the servers came from, for error messages. */
  source: string;
}

/** `~/.tskube/config` (or $TSKUBE_CONFIG): `server: host:port` or `servers: [...]`, `namespace: ...`. */
export function configPath(): string {
  return process.env.TSKUBE_CONFIG ?? join(homedir(), ".tskube", "config");
}

function readFile(): { servers?: string[]; namespace?: string } {
  const path = configPath();
  if (!existsSync(path)) return {};
  const doc = parse(readFileSync(path, "utf8")) as {
    server?: unknown;
    servers?: unknown;
    namespace?: unknown;
  } | null;
  if (!doc || typeof doc !== "object") return {};
  const servers = Array.isArray(doc.servers)
    ? doc.servers.map(String)
    : typeof doc.server === "string"
      ? doc.server.split(",")
      : undefined;
  const out: { servers?: string[]; namespace?: string } = {};
  if (servers) out.servers = servers;
  if (typeof doc.namespace === "string") out.namespace = doc.namespace;
  return out;
}

const split = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

/** Server from --server, then TSKUBE_SERVER, then the config file, then 127.0.0.1:6443. */
export function loadConfig(flags: {
  server?: string | undefined;
  namespace?: string | undefined;
}): KtlConfig {
  const file = readFile();
  let servers: string[];
  let source: string;
  if (flags.server) {
    servers = split(flags.server);
    source = "--server";
  } else if (process.env.TSKUBE_SERVER) {
    servers = split(process.env.TSKUBE_SERVER);
    source = "TSKUBE_SERVER";
  } else if (file.servers?.length) {
    servers = file.servers;
    source = configPath();
  } else {
    servers = [DEFAULT_SERVER];
    source = "default";
  }
  return { servers, namespace: flags.namespace || file.namespace || "default", source };
}
