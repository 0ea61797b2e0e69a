import Docker from "dockerode";
import type {
  ContainerConfig,
  ContainerStatus,
  ExecResult,
  Runtime,
  SandboxConfig,
  SandboxStatus,
} from "./types.js";
import { LABEL_POD_UID } from "./types.js";

/** Marks what this runtime created, per node, so two kubelets on one engine never touch each other's. */
const LABEL_NODE = "io.tskube.node";
const LABEL_KIND = "io.tskube.kind";
/** Which cluster made it: several clusters (and test runs) can share one engine. */
const LABEL_CLUSTER = "io.tskube.cluster";

export interface DockerRuntimeOptions {
  nodeName: string;
  clusterName: string;
  /** The network pod sandboxes join (compose's pods network); their address there is the pod IP. */
  network: string;
  /** The image of the sandbox container that holds the pod's network namespace. */
  sandboxImage: string;
  socketPath?: string;
}

const time = (s: string | undefined) => (s && !s.startsWith("0001-") ? Date.parse(s) : 0);

/** Splits Docker's multiplexed log/exec stream (8-byte frame headers) into stdout and stderr. */
export function demux(buf: Buffer): { stdout: Buffer; stderr: Buffer; all: Buffer } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const all: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const stream = buf[i]!;
    const size = buf.readUInt32BE(i + 4);
    const chunk = buf.subarray(i + 8, i + 8 + size);
    (stream === 2 ? err : out).push(chunk);
    all.push(chunk);
    i += 8 + size;
  }
  return { stdout: Buffer.concat(out), stderr: Buffer.concat(err), all: Buffer.concat(all) };
}

/**
 * Pods as Docker containers through the Engine API (dockerode): a sandbox container owns the pod's
 * network namespace on the pods network; app containers join it (`container:<sandbox>`), so a pod's
 * containers share an IP and localhost. Limits map to Docker's memory and CPU quotas. Images must be
 * present locally or pullable.
 */
export class DockerRuntime implements Runtime {
  readonly name = "docker";
  readonly version: string = "engine";
  private readonly docker: Docker;

  constructor(private readonly opts: DockerRuntimeOptions) {
    this.docker = new Docker({ socketPath: opts.socketPath ?? "/var/run/docker.sock" });
  }

  private async ensureImage(image: string): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
      return;
    } catch {
      // not present: pull it
    }
    const stream = await this.docker.pull(image);
    await new Promise<void>((resolve, reject) =>
      this.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())),
    );
  }

  async runPodSandbox(config: SandboxConfig): Promise<string> {
    await this.ensureImage(this.opts.sandboxImage);
    const c = await this.docker.createContainer({
      Image: this.opts.sandboxImage,
      Entrypoint: ["sleep"],
      Cmd: ["2147483647"],
      Hostname: config.hostname.slice(0, 63),
      Labels: {
        ...config.labels,
        [LABEL_NODE]: this.opts.nodeName,
        [LABEL_KIND]: "sandbox",
        [LABEL_CLUSTER]: this.opts.clusterName,
      },
      HostConfig: { NetworkMode: this.opts.network, Init: true },
    });
    await c.start();
    return c.id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.docker
      .getContainer(id)
      .stop({ t: 0 })
      .catch(() => {});
  }

  async removePodSandbox(id: string): Promise<void> {
    for (const c of await this.listContainers()) if (c.sandboxId === id) await this.removeContainer(c.id);
    await this.docker
      .getContainer(id)
      .remove({ force: true })
      .catch(() => {});
  }

  private async mine(kind: string) {
    return await this.docker.listContainers({
      all: true,
      filters: {
        label: [
          `${LABEL_NODE}=${this.opts.nodeName}`,
          `${LABEL_KIND}=${kind}`,
          `${LABEL_CLUSTER}=${this.opts.clusterName}`,
        ],
      },
    });
  }

  async listPodSandboxes(): Promise<SandboxStatus[]> {
    const out: SandboxStatus[] = [];
    for (const s of await this.mine("sandbox")) {
      const info = await this.docker.getContainer(s.Id).inspect();
      out.push({
        id: s.Id,
        podUid: s.Labels[LABEL_POD_UID] ?? "",
        state: info.State.Running ? "READY" : "NOTREADY",
        ip: info.NetworkSettings.Networks[this.opts.network]?.IPAddress ?? "",
        createdAt: time(info.Created),
        labels: s.Labels,
      });
    }
    return out;
  }

  async createContainer(sandboxId: string, config: ContainerConfig): Promise<string> {
    await this.ensureImage(config.image);
    const c = await this.docker.createContainer({
      Image: config.image,
      // Kubernetes: command replaces the image's entrypoint, args its cmd.
      ...(config.command.length ? { Entrypoint: config.command } : {}),
      ...(config.args.length ? { Cmd: config.args } : {}),
      Env: config.env.map((e) => `${e.name}=${e.value}`),
      WorkingDir: config.workingDir || undefined,
      Labels: {
        ...config.labels,
        [LABEL_NODE]: this.opts.nodeName,
        [LABEL_KIND]: "container",
        [LABEL_CLUSTER]: this.opts.clusterName,
        "io.tskube.sandbox": sandboxId,
      },
      HostConfig: {
        NetworkMode: `container:${sandboxId}`,
        Binds: config.mounts.map((m) => `${m.hostPath}:${m.containerPath}${m.readOnly ? ":ro" : ""}`),
        ...(config.memoryBytes ? { Memory: config.memoryBytes } : {}),
        ...(config.cpuMillis ? { NanoCpus: config.cpuMillis * 1_000_000 } : {}),
      },
    });
    return c.id;
  }

  async startContainer(id: string): Promise<void> {
    await this.docker.getContainer(id).start();
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.docker
      .getContainer(id)
      .stop({ t: timeoutSeconds })
      .catch(() => {});
  }

  async removeContainer(id: string): Promise<void> {
    await this.docker
      .getContainer(id)
      .remove({ force: true })
      .catch(() => {});
  }

  async listContainers(): Promise<ContainerStatus[]> {
    const out: ContainerStatus[] = [];
    for (const c of await this.mine("container")) {
      const info = await this.docker.getContainer(c.Id).inspect();
      const st = info.State;
      const state = st.Running
        ? "RUNNING"
        : st.Status === "created"
          ? "CREATED"
          : st.Status === "exited" || st.Status === "dead"
            ? "EXITED"
            : "UNKNOWN";
      out.push({
        id: c.Id,
        sandboxId: c.Labels["io.tskube.sandbox"] ?? "",
        name: c.Labels["io.tskube.container.name"] ?? "",
        image: info.Config.Image,
        state,
        createdAt: time(info.Created),
        startedAt: time(st.StartedAt),
        finishedAt: time(st.FinishedAt),
        exitCode: st.ExitCode,
        reason: st.OOMKilled ? "OOMKilled" : st.ExitCode === 0 ? "Completed" : "Error",
        message: st.Error ?? "",
        labels: c.Labels,
      });
    }
    return out;
  }

  async readLog(id: string, offset: number): Promise<{ data: Buffer; next: number }> {
    const raw = (await this.docker
      .getContainer(id)
      .logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    const all = demux(Buffer.from(raw)).all;
    return { data: all.subarray(offset), next: all.length };
  }

  async execSync(id: string, command: string[], timeoutMs: number): Promise<ExecResult> {
    const exec = await this.docker
      .getContainer(id)
      .exec({ Cmd: command, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        stream.destroy();
        resolve();
      }, timeoutMs);
      stream.on("data", (d: Buffer) => chunks.push(d));
      stream.on("end", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const { stdout, stderr } = demux(Buffer.concat(chunks));
    const info = await exec.inspect();
    return { exitCode: info.ExitCode ?? 137, stdout: stdout.toString(), stderr: stderr.toString() };
  }
}
