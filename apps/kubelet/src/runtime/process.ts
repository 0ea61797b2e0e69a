import { type ChildProcess, spawn } from "node:child_process";
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
import { isAbsolute, join } from "node:path";
import { formatResolvConf } from "../dns-config.js";
import { type CgroupPaths, Cgroups, cgroupPids, oomKilled, removeCgroup } from "./cgroups.js";
import { deletePodNetwork, intToIp, ipToInt, NETNS_DIR, PodNetwork } from "./netns.js";
import { resizeScriptPty } from "./process-exec.js";
import { type BindMount, type IsolationMode, isolatedScript, shq } from "./process-isolation.js";
import type {
  ContainerConfig,
  ContainerStatus,
  ExecOptions,
  ExecResult,
  ExecSession,
  Mount,
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
  /** Namespaced sandboxes: the named network namespace and the veth's host end. */
  netns?: string;
  veth?: string;
  hostname?: string;
  /** Namespaced sandboxes with a DNS config: the pod's resolv.conf, bound in each container. */
  resolvConf?: string;
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
  /** Namespaced containers: what it was created with, and its cgroup once started. */
  isolated?: boolean;
  mounts?: Mount[];
  cpuMillis?: number;
  memoryBytes?: number;
  cgroups?: CgroupPaths;
}

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

export interface ProcessRuntimeOptions {
  /** Names the node's bridge, namespaces and cgroup tree (several kubelets may share a host). */
  nodeName?: string;
  /** "namespaces": each pod in a network namespace, each container in mount and UTS namespaces and cgroups. */
  isolation?: IsolationMode;
  /** Why isolation is off, for the log. */
  isolationReason?: string;
  /** The CFS period CPU limits are quotas of (Kubernetes' --cpu-cfs-quota-period, 100ms). */
  cfsPeriodUs?: number;
}

/** Hostnames are at most 63 bytes (a DNS label), as Kubernetes truncates a long pod name. */
const HOSTNAME_MAX = 63;

/**
 * Containers as host processes (for `pnpm local-up` and tests without Docker). Each container runs
 * in its own process group under a small shell that records its exit code, with output in a log
 * file, so both survive a kubelet restart and a new kubelet adopts them from the state directory.
 *
 * Without isolation each pod gets its own loopback address from the node's pod CIDR (127.0.0.0/8
 * needs no setup) and a container sees the host's filesystem: volumes are host directories passed
 * by path, and the kubelet says so in an event.
 *
 * With isolation (root) a pod is what a container runtime makes of it, minus the image: the
 * sandbox is a named network namespace on the node's bridge (see PodNetwork) that every container
 * of the pod joins, so they share localhost and the pod IP; each container also gets its own
 * mount namespace with the volumes bound at their mountPath, its own UTS namespace with the pod's
 * hostname, and a cgroup with its memory and CPU limits. The root filesystem stays the host's.
 */
export class ProcessRuntime implements Runtime {
  readonly name = "process";
  readonly version = "0.1.0";
  /** No images: a container runs the host's binaries. */
  readonly images = null;
  readonly isolation: IsolationMode;
  readonly isolationReason: string;
  get isolationWarning(): string | undefined {
    return this.isolation === "none"
      ? "the process runtime runs containers as host processes: no network namespace, volumes at host paths"
      : undefined;
  }
  private readonly base: number;
  private readonly size: number;
  private readonly nodeName: string;
  private readonly net?: PodNetwork;
  private readonly cgroups?: Cgroups;
  /** Addresses handed out by sandboxes still being set up (their record is written at the end). */
  private readonly reserved = new Set<string>();
  private initialized?: Promise<string[]>;

  constructor(
    private readonly root: string,
    podCidr: string,
    opts: ProcessRuntimeOptions = {},
  ) {
    const [net, bits] = podCidr.split("/");
    this.base = ipToInt(net!);
    this.size = 2 ** (32 - Number(bits));
    this.isolation = opts.isolation ?? "none";
    this.isolationReason = opts.isolationReason ?? "";
    this.nodeName = opts.nodeName ?? "node";
    if (this.isolation === "namespaces") {
      this.net = new PodNetwork(this.nodeName, podCidr);
      this.cgroups = Cgroups.detect({ cfsPeriodUs: opts.cfsPeriodUs ?? 100_000 });
    }
    for (const d of ["sandboxes", "containers"]) mkdirSync(join(root, d), { recursive: true });
  }

  /** The node's address on the pod network (the bridge's gateway), when there is one. */
  get podGateway(): string | undefined {
    return this.net?.gateway;
  }

  get bridge(): string | undefined {
    return this.net?.bridge;
  }

  /**
   * The node's bridge, then leftovers no record owns: namespaces and veths of sandboxes whose
   * record is gone (a crash mid-setup, a wiped state directory) and cgroups of pods or containers
   * that no longer exist (their processes are killed). Adopted pods are untouched. Returns what it
   * removed, for the log. Idempotent and memoized: every call after the first waits for the first.
   */
  init(): Promise<string[]> {
    this.initialized ??= this.setUpNode();
    return this.initialized;
  }

  private async setUpNode(): Promise<string[]> {
    const { net, cgroups } = this;
    if (!net || !cgroups) return [];
    await net.ensureBridge();
    const removed: string[] = [];
    // Best effort: a leftover that will not go (a process stuck in the kernel) must not keep the
    // kubelet from starting; it is named in the log and tried again on the next start.
    const remove = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
        removed.push(what);
      } catch (err) {
        removed.push(`${what} (failed: ${(err as Error).message})`);
      }
    };
    const sandboxes = this.readSandboxes();
    const liveNs = new Set(sandboxes.filter((s) => s.state === "READY").map((s) => s.netns));
    for (const ns of net.namespaces()) {
      if (liveNs.has(ns.name)) continue;
      await remove(`network namespace ${ns.name}`, () =>
        deletePodNetwork(ns.name, net.vethName(ns.sandboxId)),
      );
    }
    const liveVeth = new Set(sandboxes.filter((s) => s.state === "READY").map((s) => s.veth));
    for (const v of await net.veths()) {
      if (liveVeth.has(v)) continue;
      await remove(`veth ${v}`, () => deletePodNetwork("", v));
    }
    // A bridge deleted and re-made while pods ran has lost its ports: put them back.
    for (const s of sandboxes)
      if (s.state === "READY" && s.veth && existsSync(`/sys/class/net/${s.veth}`)) await net.attach(s.veth);
    const pods = new Set(sandboxes.map((s) => s.podUid));
    const containers = new Set(readdirSync(join(this.root, "containers")));
    for (const uid of cgroups.podUids(this.nodeName)) {
      if (!pods.has(uid)) {
        await remove(`cgroups of pod ${uid}`, () => cgroups.removePod(this.nodeName, uid));
        continue;
      }
      for (const id of cgroups.containerIds(this.nodeName, uid)) {
        if (containers.has(id)) continue;
        await remove(`cgroup of container ${id}`, () => removeCgroup(cgroups.paths(this.nodeName, uid, id)));
      }
    }
    return removed;
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

  private readSandbox(id: string): SandboxRecord | undefined {
    const f = this.sandboxFile(id);
    return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as SandboxRecord) : undefined;
  }

  private readContainer(id: string): ContainerRecord | undefined {
    const f = join(this.containerDir(id), "meta.json");
    return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as ContainerRecord) : undefined;
  }

  private writeContainer(c: ContainerRecord): void {
    writeFileSync(join(this.containerDir(c.id), "meta.json"), JSON.stringify(c));
  }

  async runPodSandbox(config: SandboxConfig): Promise<string> {
    if (this.net) await this.init();
    // A stopped sandbox has no network left (namespaced) or no running containers: its address is free.
    const used = new Set(
      this.readSandboxes()
        .filter((s) => s.state === "READY")
        .map((s) => s.ip),
    );
    let ip = "";
    // Skip the network address and the first host (the node's own address in the range).
    for (let i = 2; i < this.size - 1; i++) {
      const candidate = intToIp(this.base + i);
      if (!used.has(candidate) && !this.reserved.has(candidate)) {
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
    if (this.net) {
      this.reserved.add(ip);
      try {
        Object.assign(rec, await this.net.setUp(id, ip), {
          hostname: config.hostname.slice(0, HOSTNAME_MAX),
        });
      } finally {
        this.reserved.delete(ip);
      }
    }
    // Without namespaces containers are host processes and read the host's /etc/resolv.conf: there
    // is no way to give them their own, so the config is only kept for namespaced pods.
    if (this.net && config.dnsConfig) {
      rec.resolvConf = join(this.root, "sandboxes", `${id}.resolv.conf`);
      writeFileSync(rec.resolvConf, formatResolvConf(config.dnsConfig));
    }
    writeFileSync(this.sandboxFile(id), JSON.stringify(rec));
    return id;
  }

  /** As CRI's StopPodSandbox: the containers stop and the network goes; the record stays. */
  async stopPodSandbox(id: string): Promise<void> {
    for (const c of await this.listContainers())
      if (c.sandboxId === id && c.state === "RUNNING") await this.stopContainer(c.id, 0);
    const rec = this.readSandbox(id);
    if (!rec) return;
    if (rec.netns) await deletePodNetwork(rec.netns, rec.veth ?? "");
    writeFileSync(this.sandboxFile(id), JSON.stringify({ ...rec, state: "NOTREADY" }));
  }

  async removePodSandbox(id: string): Promise<void> {
    for (const c of await this.listContainers()) if (c.sandboxId === id) await this.removeContainer(c.id);
    const rec = this.readSandbox(id);
    if (rec?.netns) await deletePodNetwork(rec.netns, rec.veth ?? "");
    rmSync(this.sandboxFile(id), { force: true });
    if (rec?.resolvConf) rmSync(rec.resolvConf, { force: true });
    // The pod's cgroup level goes with its last sandbox (a re-created sandbox keeps using it).
    if (rec && this.cgroups && !this.readSandboxes().some((s) => s.podUid === rec.podUid))
      await this.cgroups.removePod(this.nodeName, rec.podUid);
  }

  async listPodSandboxes(): Promise<SandboxStatus[]> {
    return this.readSandboxes().map(({ netns, veth, hostname, ...s }) => ({
      ...s,
      // A namespace that vanished (a reboot empties /run/netns) is a dead sandbox: the kubelet makes a new one.
      state: netns && !existsSync(join(NETNS_DIR, netns)) ? "NOTREADY" : s.state,
    }));
  }

  async createContainer(sandboxId: string, config: ContainerConfig): Promise<string> {
    const id = randomBytes(12).toString("hex");
    const argv = [...config.command, ...config.args];
    if (argv.length === 0)
      throw new Error(`the process runtime needs a command: image ${config.image} has no entrypoint here`);
    const sandbox = this.readSandbox(sandboxId);
    mkdirSync(this.containerDir(id), { recursive: true });
    const rec: ContainerRecord = {
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
    };
    if (sandbox?.netns) {
      rec.isolated = true;
      rec.mounts = config.mounts;
      if (config.cpuMillis !== undefined) rec.cpuMillis = config.cpuMillis;
      if (config.memoryBytes !== undefined) rec.memoryBytes = config.memoryBytes;
    }
    this.writeContainer(rec);
    return id;
  }

  private baseEnv(c: ContainerRecord, sandbox: SandboxRecord | undefined): Record<string, string> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      HOME: "/root",
    };
    if (sandbox?.hostname) env.HOSTNAME = sandbox.hostname;
    for (const e of c.env) env[e.name] = e.value;
    if (sandbox) env.TSKUBE_POD_IP = sandbox.ip;
    return env;
  }

  async startContainer(id: string): Promise<void> {
    const c = this.readContainer(id);
    if (!c) throw new Error(`container ${id} not found`);
    const dir = this.containerDir(id);
    const sandbox = this.readSandbox(c.sandboxId);
    const env = {
      ...this.baseEnv(c, sandbox),
      TSKUBE_WORKDIR: c.workingDir || "/",
      TSKUBE_EXIT_FILE: join(dir, "exit"),
    };
    let file = "/bin/sh";
    // The shell records the exit code where a restarted kubelet can still read it.
    let args = [
      "-c",
      'cd "$TSKUBE_WORKDIR" 2>/dev/null; "$@"; code=$?; echo $code > "$TSKUBE_EXIT_FILE"; exit $code',
      "sh",
      ...c.command,
    ];
    if (c.isolated) {
      const { net, cgroups } = this;
      if (!net || !cgroups)
        throw new Error("the container was created with namespaces, but this kubelet runs without them");
      if (!sandbox?.netns || !existsSync(net.netnsPath(sandbox.netns)))
        throw new Error(`the pod's network namespace ${sandbox?.netns ?? ""} is gone`);
      const mounts: BindMount[] = (c.mounts ?? []).map((m) => {
        // Relative to what? There is no image root; a relative path would land in the kubelet's cwd.
        if (!isAbsolute(m.containerPath))
          throw new Error(`error mounting "${m.hostPath}": mount path "${m.containerPath}" must be absolute`);
        if (!existsSync(m.hostPath))
          throw new Error(
            `error mounting "${m.hostPath}" to "${m.containerPath}": no such file or directory`,
          );
        return {
          source: m.hostPath,
          target: m.containerPath,
          readOnly: m.readOnly,
          directory: statSync(m.hostPath).isDirectory(),
        };
      });
      // The pod's resolv.conf over the host's, in this container's own mount namespace only.
      if (sandbox.resolvConf && existsSync(sandbox.resolvConf))
        mounts.push({
          source: sandbox.resolvConf,
          target: "/etc/resolv.conf",
          readOnly: true,
          directory: false,
        });
      const limits = {
        ...(c.cpuMillis !== undefined ? { cpuMillis: c.cpuMillis } : {}),
        ...(c.memoryBytes !== undefined ? { memoryBytes: c.memoryBytes } : {}),
      };
      c.cgroups = cgroups.create(this.nodeName, sandbox.podUid, c.id, limits);
      const procs = [...new Set([c.cgroups.memory, c.cgroups.cpu])].map((d) => join(d, "cgroup.procs"));
      const script = isolatedScript({
        cgroupProcs: procs,
        mounts,
        hostname: sandbox.hostname ?? "",
        startErrorFile: join(dir, "start-error"),
      });
      // nsenter and unshare exec (neither forks without a PID namespace), so the shell keeps the
      // spawned pid and process group the kubelet tracks.
      file = "nsenter";
      args = [
        `--net=${net.netnsPath(sandbox.netns)}`,
        "--",
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--uts",
        "--",
        "/bin/sh",
        "-c",
        script,
        "sh",
        ...c.command,
      ];
    }
    const log = openSync(join(dir, "log"), "a");
    const child = spawn(file, args, { detached: true, stdio: ["ignore", log, log], env, cwd: "/" });
    closeSync(log);
    child.unref();
    child.on("error", () => {});
    c.pid = child.pid ?? 0;
    c.startedAt = Date.now();
    this.writeContainer(c);
  }

  /** The container's processes: its process group, and (namespaced) whatever is in its cgroup. */
  private running(c: ContainerRecord): boolean {
    return groupAlive(c.pid) || (c.cgroups ? cgroupPids(c.cgroups).length > 0 : false);
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    const c = this.readContainer(id);
    if (!c || !this.running(c)) return;
    c.stoppedAt = Date.now();
    this.writeContainer(c);
    const signal = (sig: NodeJS.Signals) => {
      const targets = [-c.pid, ...(c.cgroups ? cgroupPids(c.cgroups) : [])];
      for (const t of targets) {
        try {
          process.kill(t, sig);
        } catch {
          // already gone
        }
      }
    };
    // The whole process group (and cgroup: a daemon that left the group is still the container's):
    // a child that ignores SIGTERM outlives its shell and gets SIGKILL.
    signal("SIGTERM");
    const deadline = Date.now() + timeoutSeconds * 1000;
    while (this.running(c) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (this.running(c)) signal("SIGKILL");
    while (this.running(c)) {
      signal("SIGKILL");
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async removeContainer(id: string): Promise<void> {
    const c = this.readContainer(id);
    if (c && this.running(c)) await this.stopContainer(id, 0);
    if (c?.cgroups) await removeCgroup(c.cgroups);
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
    const dir = this.containerDir(c.id);
    const exitFile = join(dir, "exit");
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
    let reason = exitCode === 0 ? "Completed" : "Error";
    let message = "";
    const startError = join(dir, "start-error");
    if (existsSync(startError)) {
      reason = "StartError";
      message = readFileSync(startError, "utf8").trim();
    } else if (exitCode === 137 && c.cgroups && oomKilled(c.cgroups)) {
      // SIGKILL plus the cgroup's OOM-kill counter: the kernel killed it for its memory limit.
      reason = "OOMKilled";
    }
    return { ...base, state: "EXITED", finishedAt, exitCode, reason, message };
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

  /**
   * How to run a command in a running container: plain, or (namespaced) through nsenter into the
   * container's network, mount and UTS namespaces, joining its cgroups before the exec so the
   * command counts against the container's limits as `docker exec` does.
   */
  private execCommand(
    c: ContainerRecord,
    command: string[],
  ): { file: string; args: string[]; env: Record<string, string>; cwd: string } {
    const sandbox = this.readSandbox(c.sandboxId);
    const env = this.baseEnv(c, sandbox);
    if (!c.isolated || !c.cgroups)
      return { file: command[0]!, args: command.slice(1), env, cwd: c.workingDir || "/" };
    const join_ = [...new Set([c.cgroups.memory, c.cgroups.cpu])]
      .map((d) => `echo $$ > ${shq(join(d, "cgroup.procs"))} || exit 126`)
      .join("; ");
    return {
      file: "nsenter",
      args: [
        "--target",
        String(c.pid),
        "--net",
        "--mount",
        "--uts",
        "--",
        "/bin/sh",
        "-c",
        `${join_}; cd "$TSKUBE_WORKDIR" 2>/dev/null; exec "$@"`,
        "sh",
        ...command,
      ],
      env: { ...env, TSKUBE_WORKDIR: c.workingDir || "/" },
      cwd: "/",
    };
  }

  async execSync(id: string, command: string[], timeoutMs: number): Promise<ExecResult> {
    const c = this.readContainer(id);
    if (!c || !alive(c.pid)) return { exitCode: 126, stdout: "", stderr: "container is not running" };
    const cmd = this.execCommand(c, command);
    return await new Promise((resolve) => {
      const child = spawn(cmd.file, cmd.args, { env: cmd.env, cwd: cmd.cwd, timeout: timeoutMs });
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

  /**
   * A streaming exec. A terminal comes from util-linux `script` (a pty without a native addon); its
   * size is set with stty at the start and from outside on a resize (resizeScriptPty).
   */
  async exec(id: string, o: ExecOptions): Promise<ExecSession> {
    const c = this.readContainer(id);
    if (!c || !alive(c.pid)) throw new Error(`container ${id} is not running`);
    let command = o.command;
    if (o.tty) {
      const size = o.size && o.size.width > 0 ? `stty cols ${o.size.width} rows ${o.size.height}; ` : "";
      command = ["script", "-qefc", `${size}exec ${o.command.map(shq).join(" ")}`, "/dev/null"];
    }
    const cmd = this.execCommand(c, command);
    const child: ChildProcess = spawn(cmd.file, cmd.args, {
      env: cmd.env,
      cwd: cmd.cwd,
      stdio: [o.stdin || o.tty ? "pipe" : "ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (d: Buffer) => o.onStdout(d));
    child.stderr?.on("data", (d: Buffer) => (o.tty ? o.onStdout(d) : o.onStderr(d)));
    child.stdin?.on("error", () => {});
    const exited = new Promise<number>((resolve) => {
      child.on("error", () => resolve(127));
      child.on("close", (code, sig) => resolve(code ?? (sig ? 128 + (sig === "SIGKILL" ? 9 : 15) : 137)));
    });
    return {
      write: (data) => {
        child.stdin?.write(data);
      },
      closeStdin: () => {
        child.stdin?.end();
      },
      resize: (size) => {
        if (o.tty) resizeScriptPty(child.pid, size);
      },
      cancel: () => {
        child.kill("SIGKILL");
      },
      exited,
    };
  }
}
