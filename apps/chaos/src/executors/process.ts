import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  type EtcdMemberStatus,
  type Executor,
  type KillMode,
  nodeOfKubeProxy,
  type PodContainer,
  parseEndpointStatus,
  parseHashKv,
  type Role,
  type Target,
} from "./types.js";

const run = promisify(execFile);

/** What `pnpm local-up` writes to its state file (scripts/local-up.ts). */
export interface LocalUpState {
  pid: number;
  components: Record<string, { pid: number; startedAt: string }>;
  /** A file here named after a component keeps local-up from restarting it until removed. */
  holdDir: string;
  /** The kubelets' --root-dir; each node's process runtime keeps its containers under <dir>/<node>. */
  kubeletRootDir: string;
  /** etcd members by process name → client URL. */
  etcdEndpoints: Record<string, string>;
}

function roleOf(name: string): { role: Role; node?: string } | undefined {
  if (/^etcd(-\d+)?$/.test(name)) return { role: "etcd" };
  if (/^apiserver-\d+$/.test(name)) return { role: "apiserver" };
  if (/^scheduler-\d+$/.test(name)) return { role: "scheduler" };
  if (/^controller-manager-\d+$/.test(name)) return { role: "controller-manager" };
  const kubelet = /^kubelet-(\d+)$/.exec(name);
  if (kubelet) return { role: "kubelet", node: `node-${kubelet[1]}` };
  const node = nodeOfKubeProxy(name);
  if (node) return { role: "kube-proxy", node };
  if (name === "dns") return { role: "dns" };
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `T` (stopped) in /proc/<pid>/stat: SIGSTOP took effect. */
function stopped(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "T";
  } catch {
    return false;
  }
}

interface ContainerMeta {
  id: string;
  labels: Record<string, string>;
  pid: number;
  stoppedAt: number;
}

/**
 * The processes of `pnpm local-up`, found through its state file. A crash is SIGKILL and local-up
 * restarts the process after --restart-delay (compose's restart policy); a held kill first leaves a
 * hold file, so local-up waits for bringBack to remove it. Pause is SIGSTOP/SIGCONT. Pod containers
 * are the process runtime's process groups, read from each kubelet's root directory.
 */
export class ProcessExecutor implements Executor {
  readonly kind = "process";

  constructor(private readonly stateFile: string) {}

  private state(): LocalUpState {
    try {
      return JSON.parse(readFileSync(this.stateFile, "utf8")) as LocalUpState;
    } catch (err) {
      throw new Error(`local-up state ${this.stateFile}: ${(err as Error).message}`);
    }
  }

  private pid(target: string): number {
    const c = this.state().components[target];
    if (!c) throw new Error(`no process ${target} in ${this.stateFile}`);
    return c.pid;
  }

  async listTargets(): Promise<Target[]> {
    const out: Target[] = [];
    for (const [name, c] of Object.entries(this.state().components)) {
      const r = roleOf(name);
      if (!r) continue;
      const running = c.pid > 0 && alive(c.pid);
      out.push({ name, ...r, running, paused: running && stopped(c.pid) });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async instance(target: string): Promise<string | undefined> {
    const c = this.state().components[target];
    return c?.pid && alive(c.pid) ? `${c.startedAt}/${c.pid}` : undefined;
  }

  async kill(target: string, mode: KillMode): Promise<void> {
    const pid = this.pid(target);
    if (!pid || !alive(pid)) throw new Error(`${target} is not running`);
    if (mode === "hold") {
      const dir = this.state().holdDir;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, target), `${new Date().toISOString()}\n`);
    }
    process.kill(pid, "SIGKILL");
  }

  async bringBack(target: string): Promise<void> {
    const s = this.state();
    rmSync(join(s.holdDir, target), { force: true });
    const pid = s.components[target]?.pid ?? 0;
    if (pid && alive(pid) && stopped(pid)) process.kill(pid, "SIGCONT");
  }

  async pause(target: string): Promise<void> {
    process.kill(this.pid(target), "SIGSTOP");
  }

  async unpause(target: string): Promise<void> {
    const pid = this.pid(target);
    if (pid && alive(pid)) process.kill(pid, "SIGCONT");
  }

  private containers(node?: string): (ContainerMeta & { node: string })[] {
    const root = this.state().kubeletRootDir;
    const out: (ContainerMeta & { node: string })[] = [];
    const nodes = node ? [node] : existsSync(root) ? readdirSync(root) : [];
    for (const n of nodes) {
      const dir = join(root, n, "containers");
      if (!existsSync(dir)) continue;
      for (const id of readdirSync(dir)) {
        try {
          const meta = JSON.parse(readFileSync(join(dir, id, "meta.json"), "utf8")) as ContainerMeta;
          out.push({ ...meta, node: n });
        } catch {
          // being created or removed right now
        }
      }
    }
    return out;
  }

  async podContainers(node?: string): Promise<PodContainer[]> {
    return this.containers(node).map((c) => ({
      id: c.id,
      namespace: c.labels["io.tskube.pod.namespace"] ?? "",
      pod: c.labels["io.tskube.pod.name"] ?? "",
      container: c.labels["io.tskube.container.name"] ?? "",
      node: c.node,
      running: c.pid > 0 && !c.stoppedAt && alive(c.pid),
    }));
  }

  /** The container's process group: the runtime spawns each container as a group leader. */
  private signalContainer(c: ContainerMeta, signal: NodeJS.Signals): void {
    if (!c.pid || !alive(c.pid)) return;
    try {
      process.kill(-c.pid, signal);
    } catch {
      process.kill(c.pid, signal);
    }
  }

  async killPodContainer(id: string): Promise<void> {
    const c = this.containers().find((x) => x.id === id);
    if (!c) throw new Error(`no pod container ${id}`);
    if (!c.pid || !alive(c.pid)) throw new Error(`pod container ${id} is not running`);
    this.signalContainer(c, "SIGKILL");
  }

  async pausePods(node: string, paused: boolean): Promise<void> {
    for (const c of this.containers(node)) this.signalContainer(c, paused ? "SIGSTOP" : "SIGCONT");
  }

  async killPods(node: string): Promise<void> {
    for (const c of this.containers(node)) this.signalContainer(c, "SIGKILL");
  }

  async etcdStatus(hashRevision?: number): Promise<EtcdMemberStatus[]> {
    const env = { ...process.env, ETCDCTL_API: "3" };
    return await Promise.all(
      Object.entries(this.state().etcdEndpoints).map(
        async ([member, endpoint]): Promise<EtcdMemberStatus> => {
          const ctl = ["--endpoints", endpoint, "--command-timeout=5s"];
          try {
            const status = parseEndpointStatus(
              member,
              (await run("etcdctl", [...ctl, "endpoint", "status", "-w", "json"], { env })).stdout,
            );
            if (hashRevision === undefined) return status;
            const out = await run(
              "etcdctl",
              [...ctl, "endpoint", "hashkv", `--rev=${hashRevision}`, "-w", "json"],
              {
                env,
              },
            );
            return { ...status, hash: parseHashKv(member, out.stdout), hashRevision };
          } catch (err) {
            return {
              member,
              memberId: "",
              leaderId: "",
              revision: 0,
              raftAppliedIndex: 0,
              raftTerm: 0,
              error: (err as Error).message,
            };
          }
        },
      ),
    );
  }

  close(): void {}
}
