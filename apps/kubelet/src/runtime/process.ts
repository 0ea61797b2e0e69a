import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type {
  ContainerConfig,
  ContainerStatus,
  ExecResult,
  Runtime,
  SandboxConfig,
  SandboxStatus,
} from "./types.js";

interface SandboxRecord {
  id: string;
  podUid: string;
  ip: string;
  createdAt: number;
  labels: Record<string, string>;
  state: "READY" | "NOTREADY";
}

interface ContainerRecord {
  id: string;
  sandboxId: string;
  name: string;
  image: string;
  labels: Record<string, string>;
  command: string[];
  env: { name: string; value: string }[];
  workingDir: string;
  createdAt: number;
  startedAt: number;
  pid: number;
  /** Set when the kubelet stopped it, so a signal death reads as such. */
  stoppedAt: number;
}

const ipToInt = (ip: string) => ip.split(".").reduce((a, o) => a * 256 + Number(o), 0);
const intToIp = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");

/** Whether any process of the container's process group is left (children included). */
function groupAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Containers as host processes (for `pnpm local-up` and tests without Docker). Each container runs
 * in its own process group under a small shell that records its exit code, with output in a log
 * file, so both survive a kubelet restart and a new kubelet adopts them from the state directory.
 * Each pod gets its own loopback address from the node's pod CIDR (127.0.0.0/8 needs no setup).
 * Without namespaces a container sees the host's filesystem: volumes are host directories passed
 * by path, and the kubelet says so in an event.
 */
export class ProcessRuntime implements Runtime {
  readonly name = "process";
  readonly version = "0.1.0";
  private readonly base: number;
  private readonly size: number;

  constructor(
    private readonly root: string,
    podCidr: string,
  ) {
    const [net, bits] = podCidr.split("/");
    this.base = ipToInt(net!);
    this.size = 2 ** (32 - Number(bits));
    for (const d of ["sandboxes", "containers"]) mkdirSync(join(root, d), { recursive: true });
  }

  private sandboxFile(id: string) {
    return join(this.root, "sandboxes", `${id}.json`);
  }

  private containerDir(id: string) {
    return join(this.root, "containers", id);
  }

  private readSandboxes(): SandboxRecord[] {
    return readdirSync(join(this.root, "sandboxes"))
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(readFileSync(join(this.root, "sandboxes", f), "utf8")) as SandboxRecord);
  }

  private readContainer(id: string): ContainerRecord | undefined {
    const f = join(this.containerDir(id), "meta.json");
    return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as ContainerRecord) : undefined;
  }

  private writeContainer(c: ContainerRecord): void {
    writeFileSync(join(this.containerDir(c.id), "meta.json"), JSON.stringify(c));
  }

  async runPodSandbox(config: SandboxConfig): Promise<string> {
    const used = new Set(this.readSandboxes().map((s) => s.ip));
    let ip = "";
    // Skip the network address and the first host (the node's own address in the range).
    for (let i = 2; i < this.size - 1; i++) {
      const candidate = intToIp(this.base + i);
      if (!used.has(candidate)) {
        ip = candidate;
        break;
      }
    }
    if (!ip) throw new Error("pod CIDR exhausted: no free pod address on this node");
    const id = randomBytes(8).toString("hex");
    const rec: SandboxRecord = {
      id,
      podUid: config.podUid,
      ip,
      createdAt: Date.now(),
      labels: config.labels,
      state: "READY",
    };
    writeFileSync(this.sandboxFile(id), JSON.stringify(rec));
    return id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    for (const c of await this.listContainers())
      if (c.sandboxId === id && c.state === "RUNNING") await this.stopContainer(c.id, 0);
    const f = this.sandboxFile(id);
    if (!existsSync(f)) return;
    const rec = JSON.parse(readFileSync(f, "utf8")) as SandboxRecord;
    writeFileSync(f, JSON.stringify({ ...rec, state: "NOTREADY" }));
  }

  async removePodSandbox(id: string): Promise<void> {
    for (const c of await this.listContainers()) if (c.sandboxId === id) await this.removeContainer(c.id);
    rmSync(this.sandboxFile(id), { force: true });
  }

  async listPodSandboxes(): Promise<SandboxStatus[]> {
    return this.readSandboxes().map((s) => ({ ...s }));
  }

  async createContainer(sandboxId: string, config: ContainerConfig): Promise<string> {
    const id = randomBytes(12).toString("hex");
    mkdirSync(this.containerDir(id), { recursive: true });
    const argv = [...config.command, ...config.args];
    if (argv.length === 0)
      throw new Error(`the process runtime needs a command: image ${config.image} has no entrypoint here`);
    this.writeContainer({
      id,
      sandboxId,
      name: config.name,
      image: config.image,
      labels: config.labels,
      command: argv,
      env: config.env,
      workingDir: config.workingDir,
      createdAt: Date.now(),
      startedAt: 0,
      pid: 0,
      stoppedAt: 0,
    });
    return id;
  }

  async startContainer(id: string): Promise<void> {
    const c = this.readContainer(id);
    if (!c) throw new Error(`container ${id} not found`);
    const dir = this.containerDir(id);
    const log = openSync(join(dir, "log"), "a");
    const sandbox = this.readSandboxes().find((s) => s.id === c.sandboxId);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      HOME: "/root",
    };
    for (const e of c.env) env[e.name] = e.value;
    if (sandbox) env.TSKUBE_POD_IP = sandbox.ip;
    // The shell records the exit code where a restarted kubelet can still read it.
    const script =
      'cd "$TSKUBE_WORKDIR" 2>/dev/null; "$@"; code=$?; echo $code > "$TSKUBE_EXIT_FILE"; exit $code';
    const child = spawn("/bin/sh", ["-c", script, "sh", ...c.command], {
      detached: true,
      stdio: ["ignore", log, log],
      env: { ...env, TSKUBE_WORKDIR: c.workingDir || "/", TSKUBE_EXIT_FILE: join(dir, "exit") },
    });
    closeSync(log);
    child.unref();
    child.on("error", () => {});
    c.pid = child.pid ?? 0;
    c.startedAt = Date.now();
    this.writeContainer(c);
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    const c = this.readContainer(id);
    if (!c || !groupAlive(c.pid)) return;
    c.stoppedAt = Date.now();
    this.writeContainer(c);
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(-c.pid, sig);
      } catch {
        // already gone
      }
    };
    // The whole process group: a child that ignores SIGTERM outlives its shell and gets SIGKILL.
    signal("SIGTERM");
    const deadline = Date.now() + timeoutSeconds * 1000;
    while (groupAlive(c.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (groupAlive(c.pid)) signal("SIGKILL");
    while (groupAlive(c.pid)) await new Promise((r) => setTimeout(r, 20));
  }

  async removeContainer(id: string): Promise<void> {
    const c = this.readContainer(id);
    if (c && groupAlive(c.pid)) await this.stopContainer(id, 0);
    rmSync(this.containerDir(id), { recursive: true, force: true });
  }

  async listContainers(): Promise<ContainerStatus[]> {
    const out: ContainerStatus[] = [];
    for (const id of readdirSync(join(this.root, "containers"))) {
      const c = this.readContainer(id);
      if (!c) continue;
      out.push(this.status(c));
    }
    return out;
  }

  private status(c: ContainerRecord): ContainerStatus {
    const base = {
      id: c.id,
      sandboxId: c.sandboxId,
      name: c.name,
      image: c.image,
      createdAt: c.createdAt,
      startedAt: c.startedAt,
      labels: c.labels,
    };
    if (!c.startedAt)
      return { ...base, state: "CREATED", finishedAt: 0, exitCode: 0, reason: "", message: "" };
    if (alive(c.pid))
      return { ...base, state: "RUNNING", finishedAt: 0, exitCode: 0, reason: "", message: "" };
    const exitFile = join(this.containerDir(c.id), "exit");
    let exitCode: number;
    let finishedAt: number;
    if (existsSync(exitFile)) {
      exitCode = Number(readFileSync(exitFile, "utf8").trim());
      finishedAt = statSync(exitFile).mtimeMs;
    } else {
      // Killed by a signal before the shell could record anything: SIGKILL unless we stopped it.
      exitCode = c.stoppedAt ? 143 : 137;
      finishedAt = c.stoppedAt || Date.now();
    }
    return {
      ...base,
      state: "EXITED",
      finishedAt,
      exitCode,
      reason: exitCode === 0 ? "Completed" : "Error",
      message: "",
    };
  }

  async readLog(id: string, offset: number): Promise<{ data: Buffer; next: number }> {
    const f = join(this.containerDir(id), "log");
    if (!existsSync(f)) return { data: Buffer.alloc(0), next: offset };
    const size = statSync(f).size;
    if (size <= offset) return { data: Buffer.alloc(0), next: offset };
    const fd = openSync(f, "r");
    try {
      const data = Buffer.alloc(size - offset);
      readSync(fd, data, 0, data.length, offset);
      return { data, next: size };
    } finally {
      closeSync(fd);
    }
  }

  async execSync(id: string, command: string[], timeoutMs: number): Promise<ExecResult> {
    const c = this.readContainer(id);
    if (!c || !alive(c.pid)) return { exitCode: 126, stdout: "", stderr: "container is not running" };
    const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
    for (const e of c.env) env[e.name] = e.value;
    return await new Promise((resolve) => {
      const child = spawn(command[0]!, command.slice(1), {
        env,
        cwd: c.workingDir || "/",
        timeout: timeoutMs,
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      child.on("error", (err) => resolve({ exitCode: 127, stdout, stderr: err.message }));
      child.on("close", (code) => resolve({ exitCode: code ?? 137, stdout, stderr }));
    });
  }
}
