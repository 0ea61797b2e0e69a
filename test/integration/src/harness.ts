import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { freePort } from "../../shared/ports.js";
import type { EtcdCerts } from "./etcd-certs.js";

export { freePort };

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
/**
 * Components run as `node --import tsx <main.ts>`: one process, so SIGKILL in a test hits the
 * component itself (the tsx CLI would put a wrapper process in between).
 */
const NODE_TSX = [process.execPath, "--import", "tsx"] as const;

/** Polls check until it returns true; an Error whose message says "exited" ends the wait at once. */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await check().catch((err: Error) => {
      if (/exited/.test(err.message)) throw err;
      return false;
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function exited(proc: ChildProcess): Promise<number | null> {
  return proc.exitCode !== null || proc.signalCode !== null
    ? Promise.resolve(proc.exitCode)
    : new Promise((r) => proc.once("exit", (code) => r(code)));
}

export interface EtcdHandle {
  endpoint: string;
  dataDir: string;
  stop(): Promise<void>;
}

export interface EtcdOptions {
  /**
   * Serve clients over TLS only (https:// client URLs) with these certificates, and ask every client
   * for a certificate from the CA (--client-cert-auth). Peers stay on plain HTTP.
   */
  tls?: EtcdCerts;
}

/** One etcd member on loopback with its data in a temporary directory (removed on stop). */
function spawnEtcdMember(
  name: string,
  ports: { client: number; peer: number },
  cluster: string,
  opts: EtcdOptions = {},
): EtcdHandle {
  const dataDir = mkdtempSync(join(tmpdir(), "tskube-etcd-"));
  const endpoint = `${opts.tls ? "https" : "http"}://127.0.0.1:${ports.client}`;
  const peer = `http://127.0.0.1:${ports.peer}`;
  const proc = spawn(
    "etcd",
    [
      "--name",
      name,
      "--data-dir",
      dataDir,
      "--listen-client-urls",
      endpoint,
      "--advertise-client-urls",
      endpoint,
      "--listen-peer-urls",
      peer,
      "--initial-advertise-peer-urls",
      peer,
      "--initial-cluster",
      cluster,
      "--initial-cluster-state",
      "new",
      "--log-level",
      "error",
      ...(opts.tls
        ? [
            "--cert-file",
            opts.tls.serverCertFile,
            "--key-file",
            opts.tls.serverKeyFile,
            "--trusted-ca-file",
            opts.tls.caFile,
            "--client-cert-auth",
          ]
        : []),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  proc.stderr?.pipe(createWriteStream(join(dataDir, "..", `${dataDir.split("/").pop()}.log`)));
  return {
    endpoint,
    dataDir,
    async stop() {
      proc.kill("SIGTERM");
      await exited(proc);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** etcd's /health answers ok (over TLS with the client certificate when etcd asks for one). */
function etcdHealthy(endpoint: string, tls: EtcdCerts | undefined): Promise<boolean> {
  if (!tls) return fetch(`${endpoint}/health`).then((r) => r.ok);
  return new Promise((resolve, reject) => {
    const req = httpsGet(
      `${endpoint}/health`,
      {
        ca: readFileSync(tls.caFile),
        cert: readFileSync(tls.clientCertFile),
        key: readFileSync(tls.clientKeyFile),
      },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on("error", reject);
  });
}

/** A real single-member etcd on loopback with its data in a temporary directory. */
export async function startEtcd(opts: EtcdOptions = {}): Promise<EtcdHandle> {
  const ports = { client: await freePort(), peer: await freePort() };
  const member = spawnEtcdMember("default", ports, `default=http://127.0.0.1:${ports.peer}`, opts);
  await waitFor("etcd", () => etcdHealthy(member.endpoint, opts.tls));
  return member;
}

/** A real etcd cluster of `size` members on loopback; endpoint lists every member's client URL. */
export async function startEtcdCluster(size = 3): Promise<EtcdHandle & { members: EtcdHandle[] }> {
  const ports = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const cluster = ports.map((p, i) => `m${i}=http://127.0.0.1:${p.peer}`).join(",");
  const members = ports.map((p, i) => spawnEtcdMember(`m${i}`, p, cluster));
  for (const m of members) await waitFor("etcd member", async () => (await fetch(`${m.endpoint}/health`)).ok);
  return {
    endpoint: members.map((m) => m.endpoint).join(","),
    dataDir: members[0]!.dataDir,
    members,
    async stop() {
      await Promise.all(members.map((m) => m.stop()));
    },
  };
}

export interface ApiserverHandle {
  /** host:port of the gRPC API. */
  address: string;
  httpUrl: string;
  proc: ChildProcess;
  logFile: string;
  /** SIGTERM and wait for a clean exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
}

export interface ApiserverOptions {
  grpcPort?: number;
  extraArgs?: string[];
  env?: Record<string, string>;
}

/** The real apiserver process, started as users start it, ready when /readyz says ok. */
export async function startApiserver(etcd: string, opts: ApiserverOptions = {}): Promise<ApiserverHandle> {
  const grpcPort = opts.grpcPort ?? (await freePort());
  const httpPort = await freePort();
  const logDir = mkdtempSync(join(tmpdir(), "tskube-apiserver-"));
  const logFile = join(logDir, "apiserver.log");
  const proc = spawn(
    NODE_TSX[0],
    [
      ...NODE_TSX.slice(1),
      join(REPO_ROOT, "apps/apiserver/src/main.ts"),
      "--etcd-servers",
      etcd,
      "--grpc-address",
      `127.0.0.1:${grpcPort}`,
      "--http-address",
      `127.0.0.1:${httpPort}`,
      ...(opts.extraArgs ?? []),
    ],
    {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LOG_LEVEL: "info", ...opts.env },
    },
  );
  const log = createWriteStream(logFile);
  proc.stdout?.pipe(log);
  proc.stderr?.pipe(log);
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  let exitedEarly = false;
  proc.once("exit", () => {
    exitedEarly = true;
  });
  await waitFor(`apiserver (log: ${logFile})`, async () => {
    if (exitedEarly) throw new Error(`apiserver exited with ${proc.exitCode}; log: ${logFile}`);
    return (await fetch(`${httpUrl}/readyz`)).ok;
  });
  return {
    address: `127.0.0.1:${grpcPort}`,
    httpUrl,
    proc,
    logFile,
    async stop() {
      proc.kill("SIGTERM");
      return await exited(proc);
    },
    async kill() {
      proc.kill("SIGKILL");
      await exited(proc);
    },
  };
}

/** Runs ktl as a user would and captures its output. */
export async function ktl(
  server: string,
  args: string[],
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(NODE_TSX[0], [...NODE_TSX.slice(1), join(REPO_ROOT, "apps/ktl/src/main.ts"), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, TSKUBE_SERVER: server, HOME: mkdtempSync(join(tmpdir(), "tskube-home-")) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  proc.stdout?.on("data", (d) => {
    stdout += d;
  });
  proc.stderr?.on("data", (d) => {
    stderr += d;
  });
  proc.stdin?.end(input ?? "");
  const code = await exited(proc);
  return { code, stdout, stderr };
}

export { waitFor };

export interface ComponentHandle {
  proc: ChildProcess;
  logFile: string;
  httpUrl: string;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

/**
 * Starts another component (scheduler, controller-manager, …) from its main.ts, ready when its
 * /healthz answers.
 */
export async function startComponent(
  app: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<ComponentHandle> {
  const httpPort = await freePort();
  const logDir = mkdtempSync(join(tmpdir(), `tskube-${app}-`));
  const logFile = join(logDir, `${app}.log`);
  const proc = spawn(
    NODE_TSX[0],
    [
      ...NODE_TSX.slice(1),
      join(REPO_ROOT, `apps/${app}/src/main.ts`),
      "--http-address",
      `127.0.0.1:${httpPort}`,
      ...args,
    ],
    { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOG_LEVEL: "info", ...env } },
  );
  const log = createWriteStream(logFile);
  proc.stdout?.pipe(log);
  proc.stderr?.pipe(log);
  let exitedEarly = false;
  proc.once("exit", () => {
    exitedEarly = true;
  });
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  await waitFor(`${app} (log: ${logFile})`, async () => {
    if (exitedEarly) throw new Error(`${app} exited with ${proc.exitCode}; log: ${logFile}`);
    return (await fetch(`${httpUrl}/healthz`)).ok;
  });
  return {
    proc,
    logFile,
    httpUrl,
    async stop() {
      proc.kill("SIGTERM");
      return await exited(proc);
    },
    async kill() {
      proc.kill("SIGKILL");
      await exited(proc);
    },
  };
}

/**
 * A controller-manager process against the given apiservers, with a fast leader-election profile
 * (lease 3 s, renew 2 s, retry 500 ms) unless args override it; `--id` names it in the Lease.
 */
export function startControllerManager(
  servers: string[],
  id: string,
  args: string[] = [],
): Promise<ComponentHandle> {
  return startComponent("controller-manager", [
    "--server",
    servers.join(","),
    "--id",
    id,
    "--leader-elect-lease-duration",
    "3s",
    "--leader-elect-renew-deadline",
    "2s",
    "--leader-elect-retry-period",
    "500ms",
    ...args,
  ]);
}
