import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { freePort } from "../../shared/ports.js";

export { freePort };

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const TSX = join(REPO_ROOT, "node_modules/.bin/tsx");

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, capturing its output; never throws for a non-zero exit. */
export function run(
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: opts.timeoutMs ?? 60_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", (err) => {
      stderr += `\n${err.message}`;
    });
    child.on("close", (code, signal) => {
      resolvePromise({ code, stdout, stderr: signal ? `${stderr}\nkilled by ${signal}` : stderr });
    });
  });
}

/** The image pods use: what `pnpm images:offline` put in .env (SANDBOX_IMAGE), else the public busybox. */
export function podImage(): string {
  try {
    const m = /^SANDBOX_IMAGE=(.+)$/m.exec(readFileSync(join(REPO_ROOT, ".env"), "utf8"));
    if (m) return m[1]!.trim();
  } catch {
    // no .env: a machine with a registry
  }
  return "busybox:1.36";
}

/** The `docker compose` plugin when present, else docker-compose v1; TSKUBE_COMPOSE overrides. */
export function composeCommand(): string[] {
  if (process.env.TSKUBE_COMPOSE) return process.env.TSKUBE_COMPOSE.split(" ").filter(Boolean);
  const plugin = spawnSync("docker", ["compose", "version"], { stdio: "ignore" });
  return plugin.status === 0 ? ["docker", "compose"] : ["docker-compose"];
}

/** A second octet N such that 10.N.0.0/16 overlaps no Docker network and no host route. */
async function freeSubnetOctet(): Promise<number> {
  const ids = (await run("docker", ["network", "ls", "-q"])).stdout.split("\n").filter(Boolean);
  const inspect = ids.length
    ? (
        await run("docker", [
          "network",
          "inspect",
          "--format",
          "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
          ...ids,
        ])
      ).stdout
    : "";
  const routes = (await run("ip", ["-4", "route"])).stdout;
  const taken = `${inspect} ${routes}`;
  for (let n = 200; n < 250; n++) if (!new RegExp(`(^|\\s)10\\.${n}\\.`).test(taken)) return n;
  throw new Error("no free 10.N.0.0/16 subnet for the e2e compose network");
}

/**
 * One compose project of the repository's docker-compose.yml under a unique name, with the host ports
 * chosen free so it can run beside a developer's own `docker compose up` or `pnpm local-up`.
 */
export class ComposeProject {
  readonly name = `tskube-e2e-${process.pid}-${Date.now().toString(36)}`;
  readonly ports: Record<string, string> = {};
  private readonly compose = composeCommand();

  async allocatePorts(): Promise<void> {
    // Pods are containers the kubelets create beside the project: their network and label are ours.
    this.ports.TSKUBE_NETWORK = `${this.name}-net`;
    this.ports.TSKUBE_CLUSTER_NAME = this.name;
    // The network has a fixed subnet (the dns service has a fixed address): pick one no other
    // Docker network holds, so a developer's own cluster or a leftover one does not clash.
    const octet = await freeSubnetOctet();
    this.ports.TSKUBE_NETWORK_SUBNET = `10.${octet}.0.0/16`;
    this.ports.TSKUBE_NETWORK_IP_RANGE = `10.${octet}.128.0/17`;
    this.ports.TSKUBE_DNS_IP = `10.${octet}.0.10`;
    for (const key of [
      "TSKUBE_APISERVER_0_PORT",
      "TSKUBE_APISERVER_0_HTTP_PORT",
      "TSKUBE_APISERVER_1_PORT",
      "TSKUBE_APISERVER_1_HTTP_PORT",
    ]) {
      this.ports[key] = String(await freePort());
    }
  }

  run(args: string[], timeoutMs = 120_000): Promise<RunResult> {
    const [command, ...prefix] = this.compose;
    return run(command!, [...prefix, "-p", this.name, ...args], { env: this.ports, timeoutMs });
  }

  async mustRun(args: string[], timeoutMs?: number): Promise<string> {
    const r = await this.run(args, timeoutMs);
    if (r.code !== 0)
      throw new Error(`compose ${args.join(" ")} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  }

  /** Removes the pod containers the kubelets made (compose does not know them). */
  async removePods(): Promise<void> {
    const ids = (
      await run("docker", ["ps", "-aq", "--filter", `label=io.tskube.cluster=${this.name}`])
    ).stdout
      .split("\n")
      .filter(Boolean);
    if (ids.length) await run("docker", ["rm", "-f", ...ids]);
  }

  /**
   * Tears the project down: the logs of `logServices` (all when empty) when a test failed, then stop
   * first (while kubelets and controllers run they recreate the pod containers, which would hold the
   * network open), remove the pods, `down -v`. Returns the result of `down`.
   */
  async tearDown(opts: { failed: boolean; tail: number; logServices?: string[] }): Promise<RunResult> {
    if (opts.failed) {
      const logs = await this.run(["logs", "--no-color", `--tail=${opts.tail}`, ...(opts.logServices ?? [])]);
      console.error(`compose logs of ${this.name}:\n${logs.stdout}${logs.stderr}`);
    }
    await this.run(["stop"], 180_000);
    await this.removePods();
    return await this.run(["down", "-v", "--remove-orphans"], 180_000);
  }

  async containerId(service: string): Promise<string> {
    const id = (await this.mustRun(["ps", "-q", service])).trim();
    if (!id) throw new Error(`no container for service ${service}`);
    return id;
  }

  /** A service container's address on the compose network (how the host reaches a node's ports). */
  async containerIp(service: string): Promise<string> {
    const id = await this.containerId(service);
    const r = await run("docker", [
      "inspect",
      "-f",
      "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
      id,
    ]);
    const ip = r.stdout.trim();
    if (r.code !== 0 || !ip) throw new Error(`no address for service ${service}: ${r.stderr}`);
    return ip;
  }

  /** Runs a command in a service's container (`docker exec`). */
  async exec(service: string, command: string[]): Promise<RunResult> {
    return await run("docker", ["exec", await this.containerId(service), ...command]);
  }

  async health(service: string): Promise<string> {
    const id = await this.containerId(service);
    const r = await run("docker", [
      "inspect",
      "-f",
      "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
      id,
    ]);
    return r.stdout.trim();
  }

  /** Waits until every service reports healthy; a compose health check has no watch to wait on. */
  async waitHealthy(services: string[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: string[] = [];
    while (Date.now() < deadline) {
      last = await Promise.all(
        services.map(async (s) => `${s}=${await this.health(s).catch(() => "missing")}`),
      );
      if (last.every((s) => s.endsWith("=healthy"))) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(`not healthy within ${timeoutMs}ms: ${last.join(", ")}`);
  }
}

/** Runs ktl from the host as a user would, against the given server list. */
export function ktl(server: string, args: string[]): Promise<RunResult> {
  return run(TSX, [join(REPO_ROOT, "apps/ktl/src/main.ts"), ...args], {
    env: { TSKUBE_SERVER: server, HOME: mkdtempSync(join(tmpdir(), "tskube-home-")) },
    timeoutMs: 60_000,
  });
}

/** ktl with a manifest on standard input (`apply -f -`). */
export async function ktlStdin(server: string, args: string[], input: string): Promise<RunResult> {
  const { spawn } = await import("node:child_process");
  return await new Promise((resolve) => {
    const p = spawn(TSX, [join(REPO_ROOT, "apps/ktl/src/main.ts"), ...args], {
      env: { ...process.env, TSKUBE_SERVER: server, HOME: mkdtempSync(join(tmpdir(), "tskube-home-")) },
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => {
      stdout += d;
    });
    p.stderr.on("data", (d) => {
      stderr += d;
    });
    p.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    p.stdin.end(input);
  });
}
