import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Where one container's cgroup lives: one directory per controller (the same one on cgroup v2). */
export interface CgroupPaths {
  version: 1 | 2;
  memory: string;
  cpu: string;
}

export interface CgroupLimits {
  cpuMillis?: number;
  memoryBytes?: number;
}

interface MountInfo {
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

/** /proc/self/mountinfo lines: fields 4 and 5 are root and mount point; after " - " come type, source, options. */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const f = pre.split(" ");
    const [fsType, , options] = post.split(" ");
    if (!f[3] || !f[4] || !fsType) continue;
    out.push({ root: f[3], mountPoint: f[4], fsType, superOptions: (options ?? "").split(",") });
  }
  return out;
}

/** /proc/self/cgroup: `id:controllers:path`; v2's line has an empty controller list. */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === "") out.set("", m[2]!);
    for (const c of m[1]!.split(",")) if (c) out.set(c.replace(/^name=/, ""), m[2]!);
  }
  return out;
}

const CONTROLLERS = ["memory", "cpu"] as const;
type Controller = (typeof CONTROLLERS)[number];

/**
 * Per-container cgroups for the process runtime, under `tskube/<node>/<pod-uid>/<container-id>`.
 * The node level exists because several kubelets may share one host (local-up, tests), and each
 * must clean up only its own leftovers. The container level is the container id, not its name:
 * a restarted container is a new attempt and must not inherit the previous attempt's OOM counter.
 *
 * cgroup v1 (one hierarchy per controller): the tree hangs under the kubelet's own cgroup in each
 * hierarchy, so an outer limit (a systemd slice, a container) still bounds the pods and whoever
 * tracks the kubelet's cgroup still sees them. cgroup v2 forbids processes in a cgroup that
 * enables controllers for its children, and the kubelet itself sits in its own cgroup, so there
 * the tree hangs under the hierarchy's root (the root of the cgroup namespace in a container).
 */
export class Cgroups {
  private constructor(
    readonly version: 1 | 2,
    /** The directory `tskube/` is created in, per controller (the same on v2). */
    private readonly parents: Record<Controller, string>,
    private readonly cfsPeriodUs: number,
  ) {}

  /** Finds memory and cpu controllers; throws saying what is missing. */
  static detect(
    opts: { cfsPeriodUs: number; mountInfo?: string; procCgroup?: string } = { cfsPeriodUs: 100_000 },
  ): Cgroups {
    const mounts = parseMountInfo(opts.mountInfo ?? readFileSync("/proc/self/mountinfo", "utf8"));
    const own = parseProcCgroup(opts.procCgroup ?? readFileSync("/proc/self/cgroup", "utf8"));
    const v1: Partial<Record<Controller, string>> = {};
    for (const c of CONTROLLERS) {
      const m = mounts.find((x) => x.fsType === "cgroup" && x.superOptions.includes(c));
      const path = own.get(c);
      if (!m || path === undefined) continue;
      // In a container the mount's root is the container's cgroup: the kubelet's path is below it.
      const rel = m.root !== "/" && path.startsWith(m.root) ? path.slice(m.root.length) : path;
      v1[c] = join(m.mountPoint, rel);
    }
    if (v1.memory && v1.cpu) return new Cgroups(1, { memory: v1.memory, cpu: v1.cpu }, opts.cfsPeriodUs);
    const unified = mounts.find((x) => x.fsType === "cgroup2");
    if (unified && !v1.memory && !v1.cpu) {
      const available = readFileSync(join(unified.mountPoint, "cgroup.controllers"), "utf8").split(/\s+/);
      if (available.includes("memory") && available.includes("cpu")) {
        // In a container's cgroup namespace the root holds processes and cannot hand controllers
        // down (EBUSY): say so now rather than fail every container start.
        const control = join(unified.mountPoint, "cgroup.subtree_control");
        const enabled = readFileSync(control, "utf8");
        if (!/\bmemory\b/.test(enabled) || !/\bcpu\b/.test(enabled)) {
          try {
            writeFileSync(control, "+memory +cpu");
          } catch (err) {
            throw new Error(
              `cgroup v2: cannot enable the memory and cpu controllers in ${control}: ${(err as Error).message}`,
            );
          }
        }
        return new Cgroups(2, { memory: unified.mountPoint, cpu: unified.mountPoint }, opts.cfsPeriodUs);
      }
    }
    throw new Error("no cgroup hierarchy with the memory and cpu controllers (/proc/self/mountinfo)");
  }

  /** The directory of a node's tree in each hierarchy (deduplicated: one on v2). */
  private nodeDirs(node: string): string[] {
    return [...new Set(CONTROLLERS.map((c) => join(this.parents[c], "tskube", node)))];
  }

  paths(node: string, podUid: string, containerId: string): CgroupPaths {
    const dir = (c: Controller) => join(this.parents[c], "tskube", node, podUid, containerId);
    return { version: this.version, memory: dir("memory"), cpu: dir("cpu") };
  }

  /** Creates the container's cgroup and writes its limits; the wrapper joins it before exec. */
  create(node: string, podUid: string, containerId: string, limits: CgroupLimits): CgroupPaths {
    const p = this.paths(node, podUid, containerId);
    if (this.version === 2) {
      // Each level must hand the controllers down to the next one.
      const levels = [this.parents.memory, "tskube", node, podUid];
      let dir = "";
      for (const l of levels) {
        dir = dir ? join(dir, l) : l;
        mkdirSync(dir, { recursive: true });
        const enabled = readFileSync(join(dir, "cgroup.subtree_control"), "utf8");
        if (!/\bmemory\b/.test(enabled) || !/\bcpu\b/.test(enabled))
          writeFileSync(join(dir, "cgroup.subtree_control"), "+memory +cpu");
      }
      mkdirSync(p.memory, { recursive: true });
      if (limits.memoryBytes !== undefined) {
        writeFileSync(join(p.memory, "memory.max"), String(limits.memoryBytes));
        // Kubernetes runs without swap: the limit is the memory the container gets, full stop.
        if (existsSync(join(p.memory, "memory.swap.max")))
          writeFileSync(join(p.memory, "memory.swap.max"), "0");
      }
      if (limits.cpuMillis !== undefined)
        writeFileSync(join(p.cpu, "cpu.max"), `${this.quotaUs(limits.cpuMillis)} ${this.cfsPeriodUs}`);
      return p;
    }
    mkdirSync(p.memory, { recursive: true });
    mkdirSync(p.cpu, { recursive: true });
    if (limits.memoryBytes !== undefined) {
      writeFileSync(join(p.memory, "memory.limit_in_bytes"), String(limits.memoryBytes));
      // memsw (memory+swap) must not be below the memory limit; equal means no swap, as Kubernetes.
      const memsw = join(p.memory, "memory.memsw.limit_in_bytes");
      if (existsSync(memsw)) writeFileSync(memsw, String(limits.memoryBytes));
    }
    if (limits.cpuMillis !== undefined) {
      writeFileSync(join(p.cpu, "cpu.cfs_period_us"), String(this.cfsPeriodUs));
      writeFileSync(join(p.cpu, "cpu.cfs_quota_us"), String(this.quotaUs(limits.cpuMillis)));
    }
    return p;
  }

  /** As the kubelet's MilliCPUToQuota: milliCPU × period / 1000, at least 1ms. */
  private quotaUs(millis: number): number {
    return Math.max(1000, Math.floor((millis * this.cfsPeriodUs) / 1000));
  }

  /** Uids of the pods that have a cgroup tree (for cleaning up pods that no longer exist). */
  podUids(node: string): string[] {
    const out = new Set<string>();
    for (const d of this.nodeDirs(node)) {
      if (!existsSync(d)) continue;
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) out.add(e.name);
    }
    return [...out];
  }

  /** Container ids with a cgroup under one pod. */
  containerIds(node: string, podUid: string): string[] {
    const out = new Set<string>();
    for (const d of this.nodeDirs(node)) {
      const pod = join(d, podUid);
      if (!existsSync(pod)) continue;
      for (const e of readdirSync(pod, { withFileTypes: true })) if (e.isDirectory()) out.add(e.name);
    }
    return [...out];
  }

  /** Removes a pod's tree: container cgroups first (each must be empty), then the pod level. */
  async removePod(node: string, podUid: string): Promise<void> {
    for (const id of this.containerIds(node, podUid)) await removeCgroup(this.paths(node, podUid, id));
    for (const d of this.nodeDirs(node)) await rmdirRetry(join(d, podUid));
  }
}

/** Pids in a cgroup (every controller directory of it). */
export function cgroupPids(p: CgroupPaths): number[] {
  const pids = new Set<number>();
  for (const d of new Set([p.memory, p.cpu])) {
    const f = join(d, "cgroup.procs");
    if (!existsSync(f)) continue;
    for (const l of readFileSync(f, "utf8").split("\n")) if (l.trim()) pids.add(Number(l));
  }
  return [...pids];
}

/** Whether the kernel's OOM killer killed a process of this cgroup (v1 oom_control, v2 memory.events). */
export function oomKilled(p: CgroupPaths): boolean {
  const file = join(p.memory, p.version === 1 ? "memory.oom_control" : "memory.events");
  if (!existsSync(file)) return false;
  const m = /^oom_kill (\d+)$/m.exec(readFileSync(file, "utf8"));
  if (m) return Number(m[1]) > 0;
  // Kernels before 4.13 have no oom_kill counter in v1; hitting the limit is the next best sign.
  const failcnt = join(p.memory, "memory.failcnt");
  return p.version === 1 && existsSync(failcnt) && Number(readFileSync(failcnt, "utf8")) > 0;
}

/**
 * rmdir of a cgroup fails with EBUSY while a dying process is still being torn down; the kubelet
 * has just waited for the processes, so a short retry covers the kernel's lag.
 */
async function rmdirRetry(dir: string, attempts = 50, delayMs = 20): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code === "ENOTEMPTY" || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

/** Kills whatever is left in a container's cgroup and removes it. */
export async function removeCgroup(p: CgroupPaths): Promise<void> {
  for (const pid of cgroupPids(p)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
  for (const d of new Set([p.memory, p.cpu])) await rmdirRetry(d);
}
