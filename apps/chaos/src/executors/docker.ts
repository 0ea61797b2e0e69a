import { hostname } from "node:os";
import Docker from "dockerode";
import {
  type EtcdMemberStatus,
  type Executor,
  type KillMode,
  type PodContainer,
  parseEndpointStatus,
  parseHashKv,
  type Role,
  type Target,
} from "./types.js";

const LABEL_PROJECT = "com.docker.compose.project";
const LABEL_SERVICE = "com.docker.compose.service";
/** The kubelet's docker runtime labels (apps/kubelet/src/runtime/docker.ts). */
const LABEL_CLUSTER = "io.tskube.cluster";
const LABEL_NODE = "io.tskube.node";
const LABEL_KIND = "io.tskube.kind";
const LABEL_POD_NAME = "io.tskube.pod.name";
const LABEL_POD_NAMESPACE = "io.tskube.pod.namespace";
const LABEL_CONTAINER_NAME = "io.tskube.container.name";
const BRING_BACK_ATTEMPTS = 20;
const BRING_BACK_RETRY_MS = 500;

export interface DockerExecutorOptions {
  /**
   * The compose project whose services are the targets (`com.docker.compose.project`); empty: the
   * project of the container this process runs in (its hostname is its container id), so the
   * controller finds its own cluster whatever name compose gave the project.
   */
  project: string;
  /** The kubelets' --cluster-name: their pod containers carry it. */
  clusterName: string;
  socketPath: string;
  /** How the etcd members' etcdctl reaches its own member. */
  etcdEndpoint: string;
  /** Sends a signal to a host PID; the chaos container runs with `pid: host` to be able to. */
  signal?: (pid: number, signal: NodeJS.Signals) => void;
}

function roleOf(service: string): { role: Role; node?: string } | undefined {
  if (/^etcd-\d+$/.test(service)) return { role: "etcd" };
  if (/^apiserver-\d+$/.test(service)) return { role: "apiserver" };
  if (/^scheduler-\d+$/.test(service)) return { role: "scheduler" };
  if (/^controller-manager-\d+$/.test(service)) return { role: "controller-manager" };
  if (/^node-\d+$/.test(service)) return { role: "kubelet", node: service };
  const proxy = /^kube-proxy-(\d+)$/.exec(service);
  if (proxy) return { role: "kube-proxy", node: `node-${proxy[1]}` };
  if (service === "dns") return { role: "dns" };
  return undefined;
}

/** An Engine error as the docker CLI prints it. */
function engineError(err: unknown, what: string): Error {
  const e = err as { statusCode?: number; json?: { message?: string }; message?: string };
  return new Error(`${what}: ${e.json?.message ?? e.message ?? String(err)}`);
}

/**
 * Compose services and pod containers through the Docker Engine API (dockerode, as the kubelet's
 * docker runtime). A crash is SIGKILL to the container's main process from the host: Docker sees the
 * process die and `restart: unless-stopped` restarts it. A held kill is the Engine's own kill
 * (SIGKILL too), which Docker records as a manual stop, so the container stays down until
 * bringBack starts it, as an operator would.
 */
export class DockerExecutor implements Executor {
  readonly kind = "docker";
  private readonly docker: Docker;
  private readonly signal: (pid: number, signal: NodeJS.Signals) => void;
  private resolvedProject: string | undefined;

  constructor(private readonly opts: DockerExecutorOptions) {
    this.docker = new Docker({ socketPath: opts.socketPath });
    this.signal = opts.signal ?? ((pid, sig) => process.kill(pid, sig));
    if (opts.project) this.resolvedProject = opts.project;
  }

  /** The compose project: the configured one, else the one of the container this process runs in. */
  async project(): Promise<string> {
    if (this.resolvedProject) return this.resolvedProject;
    const self = hostname();
    const info = await this.docker
      .getContainer(self)
      .inspect()
      .catch((err: unknown) => {
        throw engineError(err, `no compose project given and container ${self} (this host) is unknown`);
      });
    const project = info.Config.Labels?.[LABEL_PROJECT];
    if (!project)
      throw new Error(`no compose project given and container ${self} has no ${LABEL_PROJECT} label`);
    this.resolvedProject = project;
    return project;
  }

  private async services(): Promise<Map<string, Docker.ContainerInfo>> {
    const list = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_PROJECT}=${await this.project()}`] },
    });
    const out = new Map<string, Docker.ContainerInfo>();
    for (const c of list) {
      const service = c.Labels[LABEL_SERVICE];
      if (service) out.set(service, c);
    }
    return out;
  }

  private async container(service: string): Promise<Docker.Container> {
    const c = (await this.services()).get(service);
    if (!c) throw new Error(`no container of service ${service} in compose project ${await this.project()}`);
    return this.docker.getContainer(c.Id);
  }

  async listTargets(): Promise<Target[]> {
    const out: Target[] = [];
    for (const [service, c] of await this.services()) {
      const r = roleOf(service);
      if (!r) continue;
      out.push({
        name: service,
        ...r,
        running: c.State === "running" || c.State === "paused",
        paused: c.State === "paused",
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async instance(target: string): Promise<string | undefined> {
    const info = await (await this.container(target)).inspect();
    return info.State.Running && !info.State.Restarting
      ? `${info.State.StartedAt}/${info.State.Pid}`
      : undefined;
  }

  async kill(target: string, mode: KillMode): Promise<void> {
    const c = await this.container(target);
    if (mode === "hold") {
      await c.kill({ signal: "KILL" }).catch((err) => {
        throw engineError(err, `kill ${target}`);
      });
      return;
    }
    const info = await c.inspect();
    if (!info.State.Running || !info.State.Pid) throw new Error(`${target} is not running`);
    this.signal(info.State.Pid, "SIGKILL");
  }

  async bringBack(target: string): Promise<void> {
    const c = await this.container(target);
    const info = await c.inspect();
    if (info.State.Paused) await c.unpause();
    if (!info.State.Running) {
      await c.start().catch((err) => {
        // 304: already started (its restart policy was quicker).
        if ((err as { statusCode?: number }).statusCode !== 304) throw engineError(err, `start ${target}`);
      });
    }
    // A container that shares this one's network namespace (`network_mode: service:node-N`, the
    // node's kube-proxy) was left in the old, unplugged namespace, or failed to restart without it:
    // once this one runs, restart it into the new namespace, as restarting a machine restarts
    // everything on it. The engine refuses ("cannot join network of a non running container")
    // while this one is still starting, hence the retries.
    for (const [service, other] of await this.services()) {
      if (other.HostConfig?.NetworkMode !== `container:${info.Id}`) continue;
      let lastErr: unknown;
      for (let attempt = 0; attempt < BRING_BACK_ATTEMPTS; attempt++) {
        const self = await c.inspect();
        if (self.State.Running && !self.State.Restarting) {
          try {
            await this.docker.getContainer(other.Id).restart({ t: 1 });
            lastErr = undefined;
            break;
          } catch (err) {
            lastErr = err;
          }
        }
        await new Promise((r) => setTimeout(r, BRING_BACK_RETRY_MS));
      }
      if (lastErr) throw engineError(lastErr, `restart ${service} into ${target}'s network namespace`);
    }
  }

  async pause(target: string): Promise<void> {
    await (await this.container(target)).pause().catch((err) => {
      throw engineError(err, `pause ${target}`);
    });
  }

  async unpause(target: string): Promise<void> {
    const c = await this.container(target);
    if (!(await c.inspect()).State.Paused) return;
    await c.unpause().catch((err) => {
      throw engineError(err, `unpause ${target}`);
    });
  }

  private async pods(node: string | undefined, kinds: string[]): Promise<Docker.ContainerInfo[]> {
    const label = [`${LABEL_CLUSTER}=${this.opts.clusterName}`];
    if (node) label.push(`${LABEL_NODE}=${node}`);
    const list = await this.docker.listContainers({ all: true, filters: { label } });
    return list.filter((c) => kinds.includes(c.Labels[LABEL_KIND] ?? ""));
  }

  async podContainers(node?: string): Promise<PodContainer[]> {
    return (await this.pods(node, ["container"])).map((c) => ({
      id: c.Id,
      namespace: c.Labels[LABEL_POD_NAMESPACE] ?? "",
      pod: c.Labels[LABEL_POD_NAME] ?? "",
      container: c.Labels[LABEL_CONTAINER_NAME] ?? "",
      node: c.Labels[LABEL_NODE] ?? "",
      running: c.State === "running",
    }));
  }

  async killPodContainer(id: string): Promise<void> {
    // Pod containers have no restart policy of their own (the kubelet restarts them), so the
    // Engine's kill is the same crash as a host SIGKILL: the main process dies with 137.
    await this.docker
      .getContainer(id)
      .kill({ signal: "KILL" })
      .catch((err) => {
        throw engineError(err, `kill container ${id}`);
      });
  }

  async pausePods(node: string, paused: boolean): Promise<void> {
    for (const c of await this.pods(node, ["sandbox", "container"])) {
      const container = this.docker.getContainer(c.Id);
      try {
        if (paused && c.State === "running") await container.pause();
        if (!paused && c.State === "paused") await container.unpause();
      } catch (err) {
        // 404/409: the container went away or changed state meanwhile.
        const code = (err as { statusCode?: number }).statusCode;
        if (code !== 404 && code !== 409) throw engineError(err, `pause container ${c.Id}`);
      }
    }
  }

  async killPods(node: string): Promise<void> {
    for (const c of await this.pods(node, ["container", "sandbox"])) {
      if (c.State !== "running") continue;
      await this.docker
        .getContainer(c.Id)
        .kill({ signal: "KILL" })
        .catch((err) => {
          const code = (err as { statusCode?: number }).statusCode;
          if (code !== 404 && code !== 409) throw engineError(err, `kill container ${c.Id}`);
        });
    }
  }

  /** Runs a command in a container and returns its stdout; rejects with stderr on a non-zero exit. */
  private async exec(service: string, cmd: string[]): Promise<string> {
    const c = await this.container(service);
    const exec = await c.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.demuxStream(
        stream,
        { write: (d: Buffer) => stdout.push(d) } as unknown as NodeJS.WritableStream,
        { write: (d: Buffer) => stderr.push(d) } as unknown as NodeJS.WritableStream,
      );
      stream.on("end", () => resolve());
      stream.on("error", reject);
    });
    // The engine records the exit code a moment after the stream ends.
    let info = await exec.inspect();
    for (let i = 0; i < 50 && info.Running; i++) {
      await new Promise((r) => setTimeout(r, 20));
      info = await exec.inspect();
    }
    if (info.ExitCode !== 0)
      throw new Error(
        `${cmd.join(" ")} in ${service}: exit ${info.ExitCode}: ${Buffer.concat(stderr).toString().trim()}`,
      );
    return Buffer.concat(stdout).toString();
  }

  async etcdStatus(hashRevision?: number): Promise<EtcdMemberStatus[]> {
    const members = (await this.listTargets()).filter((t) => t.role === "etcd");
    const ctl = ["etcdctl", `--endpoints=${this.opts.etcdEndpoint}`, "--command-timeout=5s"];
    return await Promise.all(
      members.map(async (m): Promise<EtcdMemberStatus> => {
        try {
          const status = parseEndpointStatus(
            m.name,
            await this.exec(m.name, [...ctl, "endpoint", "status", "-w", "json"]),
          );
          if (hashRevision === undefined) return status;
          const out = await this.exec(m.name, [
            ...ctl,
            "endpoint",
            "hashkv",
            `--rev=${hashRevision}`,
            "-w",
            "json",
          ]);
          return { ...status, hash: parseHashKv(m.name, out), hashRevision };
        } catch (err) {
          return {
            member: m.name,
            memberId: "",
            leaderId: "",
            revision: 0,
            raftAppliedIndex: 0,
            raftTerm: 0,
            error: (err as Error).message,
          };
        }
      }),
    );
  }

  close(): void {}
}
