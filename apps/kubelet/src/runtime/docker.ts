import { networkInterfaces } from "node:os";
import type { Logger } from "@tskube/log";
import Docker from "dockerode";
import type {
  ContainerConfig,
  ContainerStatus,
  ExecOptions,
  ExecResult,
  ExecSession,
  Image,
  ImageService,
  Runtime,
  SandboxConfig,
  SandboxStatus,
  TerminalSize,
} from "./types.js";
import { LABEL_POD_NAME, LABEL_POD_UID } from "./types.js";

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
  /**
   * The Services' ClusterIP range (the apiserver's --service-cluster-ip-range). Set, every sandbox
   * routes it via this node's address on `network`, where kube-proxy DNATs it: sandboxes are
   * sibling containers, so their traffic would not pass through the node otherwise. "" or absent:
   * no route (and no NET_ADMIN for sandboxes).
   */
  serviceClusterIpRange?: string;
  socketPath?: string;
  log?: Logger;
}

/** The sandbox only holds the network namespace, so it sleeps "forever" (68 years). */
const SANDBOX_COMMAND = { Entrypoint: ["sleep"], Cmd: ["2147483647"] };

/** How long the route command may take in a sandbox. */
const ROUTE_TIMEOUT_MS = 10_000;

/** What a sandbox runs to send the service range through its node (idempotent: `replace`). */
export function serviceRouteCommand(cidr: string, via: string): string[] {
  return ["ip", "route", "replace", cidr, "via", via];
}

const ipv4ToInt = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);

/** The first IPv4 address inside one of the IPv4 subnets (tried in order), or undefined. */
export function addressInSubnets(addresses: string[], subnets: string[]): string | undefined {
  for (const subnet of subnets) {
    const [base, bitsText] = subnet.split("/") as [string, string | undefined];
    if (base.includes(":") || bitsText === undefined) continue;
    const size = 2 ** (32 - Number(bitsText));
    const start = Math.floor(ipv4ToInt(base) / size) * size;
    const found = addresses.find(
      (a) => !a.includes(":") && ipv4ToInt(a) >= start && ipv4ToInt(a) < start + size,
    );
    if (found) return found;
  }
  return undefined;
}

/**
 * The Engine API body of a pod's sandbox container. Only the sandbox gets NET_ADMIN, to set the
 * route of the service range in the pod's network namespace; the pod's containers never have it.
 */
export function sandboxCreateOptions(
  opts: Pick<
    DockerRuntimeOptions,
    "nodeName" | "clusterName" | "network" | "sandboxImage" | "serviceClusterIpRange"
  >,
  config: SandboxConfig,
): Docker.ContainerCreateOptions {
  return {
    Image: opts.sandboxImage,
    ...SANDBOX_COMMAND,
    Hostname: config.hostname.slice(0, 63),
    Labels: {
      ...config.labels,
      [LABEL_NODE]: opts.nodeName,
      [LABEL_KIND]: "sandbox",
      [LABEL_CLUSTER]: opts.clusterName,
    },
    HostConfig: {
      NetworkMode: opts.network,
      Init: true,
      ...(opts.serviceClusterIpRange ? { CapAdd: ["NET_ADMIN"] } : {}),
      // The pod's containers join this network namespace and share its resolv.conf. On a
      // user-defined network Docker keeps its embedded resolver as the nameserver and forwards
      // what it does not know to these servers; search and options are written as given.
      ...(config.dnsConfig
        ? {
            Dns: config.dnsConfig.servers,
            DnsSearch: config.dnsConfig.searches,
            DnsOptions: config.dnsConfig.options,
          }
        : {}),
    },
  };
}

/** The Engine API body of one of a pod's containers, joined to its sandbox's network namespace. */
export function containerCreateOptions(
  opts: Pick<DockerRuntimeOptions, "nodeName" | "clusterName">,
  sandboxId: string,
  config: ContainerConfig,
): Docker.ContainerCreateOptions {
  return {
    Image: config.image,
    // Kubernetes: command replaces the image's entrypoint, args its cmd.
    ...(config.command.length ? { Entrypoint: config.command } : {}),
    ...(config.args.length ? { Cmd: config.args } : {}),
    Env: config.env.map((e) => `${e.name}=${e.value}`),
    WorkingDir: config.workingDir || undefined,
    Labels: {
      ...config.labels,
      [LABEL_NODE]: opts.nodeName,
      [LABEL_KIND]: "container",
      [LABEL_CLUSTER]: opts.clusterName,
      "io.tskube.sandbox": sandboxId,
    },
    HostConfig: {
      NetworkMode: `container:${sandboxId}`,
      Binds: config.mounts.map((m) => `${m.hostPath}:${m.containerPath}${m.readOnly ? ":ro" : ""}`),
      ...(config.memoryBytes ? { Memory: config.memoryBytes } : {}),
      ...(config.cpuMillis ? { NanoCpus: config.cpuMillis * 1_000_000 } : {}),
    },
  };
}

/**
 * How long to wait for the engine to mark an exec finished once its stream ended: Docker closes the
 * stream when the process exits but records the exit code a moment later.
 */
const EXEC_EXIT_WAIT_MS = 5_000;
const EXEC_EXIT_POLL_MS = 20;

/** An Engine API error as the docker CLI prints it ("Error response from daemon: …"). */
function engineError(err: unknown): Error {
  const e = err as { statusCode?: number; json?: unknown; message?: string };
  if (!e.statusCode) return err instanceof Error ? err : new Error(String(err));
  // docker-modem keeps the body as parsed JSON, or as text for streaming calls such as a pull.
  let body = e.json;
  if (Buffer.isBuffer(body)) body = body.toString();
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      // plain text
    }
  }
  const message =
    (typeof body === "object" && body && String((body as { message?: string }).message ?? "")) ||
    (typeof body === "string" && body) ||
    String(e.message ?? "").replace(/^\(HTTP code \d+\) [^-]*- /, "");
  return new Error(`Error response from daemon: ${message.trim()}`);
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

/** Splits Docker's multiplexed stream as it arrives (frames may span chunks). */
export function demuxer(
  onStdout: (d: Buffer) => void,
  onStderr: (d: Buffer) => void,
): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 8) {
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) break;
      const data = pending.subarray(8, 8 + size);
      if (data.length) (pending[0] === 2 ? onStderr : onStdout)(data);
      pending = pending.subarray(8 + size);
    }
  };
}

/** The Engine's image store (dockerode): inspect for presence, pull with its progress stream. */
class DockerImages implements ImageService {
  constructor(private readonly docker: Docker) {}

  async imageStatus(image: string): Promise<Image | undefined> {
    try {
      const info = await this.docker.getImage(image).inspect();
      return { id: info.Id, repoTags: info.RepoTags ?? [], size: info.Size };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw engineError(err);
    }
  }

  async pullImage(image: string): Promise<Image> {
    let stream: NodeJS.ReadableStream;
    try {
      // The engine answers at once when it cannot reach the registry (HTTP 500 before any progress).
      stream = await this.docker.pull(image);
    } catch (err) {
      throw engineError(err);
    }
    await new Promise<void>((resolve, reject) => {
      let failure: string | undefined;
      this.docker.modem.followProgress(
        stream,
        (err: Error | null) => (err ? reject(err) : failure ? reject(new Error(failure)) : resolve()),
        // A failure mid-pull (unknown tag, registry refusal) arrives as a progress message.
        (ev: { error?: string; errorDetail?: { message?: string } }) => {
          if (ev.error) failure ??= ev.errorDetail?.message || ev.error;
        },
      );
    });
    const pulled = await this.imageStatus(image);
    if (!pulled) throw new Error(`image ${image} is not on the node after its pull`);
    return pulled;
  }
}

/**
 * Pods as Docker containers through the Engine API (dockerode): a sandbox container owns the pod's
 * network namespace on the pods network; app containers join it (`container:<sandbox>`), so a pod's
 * containers share an IP and localhost. Limits map to Docker's memory and CPU quotas. The kubelet pulls
 * container images (imagePullPolicy) before it creates containers; the sandbox image is the runtime's
 * own business and is pulled here when missing, as containerd pulls its pause image.
 */
export class DockerRuntime implements Runtime {
  readonly name = "docker";
  readonly version: string = "engine";
  private readonly docker: Docker;
  readonly images: DockerImages;

  constructor(private readonly opts: DockerRuntimeOptions) {
    this.docker = new Docker({ socketPath: opts.socketPath ?? "/var/run/docker.sock" });
    this.images = new DockerImages(this.docker);
  }

  private async ensureImage(image: string): Promise<void> {
    if (!(await this.images.imageStatus(image))) await this.images.pullImage(image);
  }

  async runPodSandbox(config: SandboxConfig): Promise<string> {
    await this.ensureImage(this.opts.sandboxImage);
    const c = await this.docker.createContainer(sandboxCreateOptions(this.opts, config));
    await c.start();
    if (this.opts.serviceClusterIpRange) {
      try {
        await this.routeServices(c.id);
      } catch (err) {
        // A pod that cannot reach Services is not ready to run: the kubelet retries with a new sandbox.
        await c.remove({ force: true }).catch(() => {});
        throw err;
      }
    }
    return c.id;
  }

  /** This node's address on the pods network, found once: the gateway of the sandboxes' service route. */
  private nodeAddress?: Promise<string> | undefined;
  /** Sandboxes whose service route this process set (a restarted kubelet sets it again: adoption). */
  private readonly routed = new Set<string>();

  /**
   * The kubelet's own address on the pods network: the local interface address inside one of the
   * network's subnets (the kubelet runs in the node container on that network, or on the host, whose
   * bridge address is then the gateway).
   */
  private findNodeAddress(): Promise<string> {
    this.nodeAddress ??= (async () => {
      let subnets: string[];
      try {
        const net = await this.docker.getNetwork(this.opts.network).inspect();
        subnets = ((net.IPAM?.Config ?? []) as { Subnet?: string }[]).flatMap((c) =>
          c.Subnet ? [c.Subnet] : [],
        );
      } catch (err) {
        throw engineError(err);
      }
      const local = Object.values(networkInterfaces())
        .flatMap((l) => l ?? [])
        .map((a) => a.address);
      const found = addressInSubnets(local, subnets);
      if (!found)
        throw new Error(
          `no address of this node in network ${JSON.stringify(this.opts.network)} (${subnets.join(", ") || "no subnet"}): sandboxes cannot route the service range ${this.opts.serviceClusterIpRange} via it`,
        );
      this.opts.log?.info(
        {
          network: this.opts.network,
          nodeAddress: found,
          serviceClusterIpRange: this.opts.serviceClusterIpRange,
        },
        "pod sandboxes route the service range via this node",
      );
      return found;
    })().catch((err) => {
      this.nodeAddress = undefined;
      throw err;
    });
    return this.nodeAddress;
  }

  /** Sets (or replaces) the service route in a running sandbox. */
  private async routeServices(id: string): Promise<void> {
    const cidr = this.opts.serviceClusterIpRange!;
    const via = await this.findNodeAddress();
    const r = await this.execSync(id, serviceRouteCommand(cidr, via), ROUTE_TIMEOUT_MS);
    if (r.exitCode !== 0)
      throw new Error(
        `route ${cidr} via ${via} in the pod sandbox: exit ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`,
      );
    this.routed.add(id);
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
    const seen = new Set<string>();
    for (const s of await this.mine("sandbox")) {
      const info = await this.docker.getContainer(s.Id).inspect();
      seen.add(s.Id);
      let ready = info.State.Running;
      if (ready && this.opts.serviceClusterIpRange && !this.routed.has(s.Id)) {
        // Adopted (made by an earlier kubelet, whose node may have had another address): route it
        // again. A sandbox made without NET_ADMIN cannot be, so it counts as not ready and the pod
        // gets a new one, as after a sandbox's network was lost.
        if (!(info.HostConfig.CapAdd ?? []).includes("NET_ADMIN")) {
          this.opts.log?.warn(
            { sandbox: s.Id, pod: s.Labels[LABEL_POD_NAME] },
            "adopted sandbox lacks NET_ADMIN for the service route; the pod gets a new sandbox",
          );
          ready = false;
        } else {
          await this.routeServices(s.Id).catch((err: Error) =>
            // Tried again at the next listing; the pod keeps running meanwhile.
            this.opts.log?.warn(
              { sandbox: s.Id, err: err.message },
              "service route in an adopted sandbox failed",
            ),
          );
        }
      }
      out.push({
        id: s.Id,
        podUid: s.Labels[LABEL_POD_UID] ?? "",
        state: ready ? "READY" : "NOTREADY",
        ip: info.NetworkSettings.Networks[this.opts.network]?.IPAddress ?? "",
        createdAt: time(info.Created),
        labels: s.Labels,
      });
    }
    for (const id of this.routed) if (!seen.has(id)) this.routed.delete(id);
    return out;
  }

  async createContainer(sandboxId: string, config: ContainerConfig): Promise<string> {
    const c = await this.docker.createContainer(containerCreateOptions(this.opts, sandboxId, config));
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

  async exec(id: string, o: ExecOptions): Promise<ExecSession> {
    const exec = await this.docker.getContainer(id).exec({
      Cmd: o.command,
      AttachStdin: o.stdin,
      AttachStdout: true,
      AttachStderr: true,
      Tty: o.tty,
    });
    const stream = (await exec.start({
      hijack: true,
      stdin: o.stdin,
      Tty: o.tty,
    })) as NodeJS.ReadWriteStream & {
      destroy(): void;
    };
    const resize = (size: TerminalSize) => {
      if (o.tty && size.width > 0 && size.height > 0)
        exec.resize({ h: size.height, w: size.width }).catch(() => {
          // the command already exited
        });
    };
    // Engine API 1.41 has no ConsoleSize on create: the size follows the start (a command that
    // reads it in its first instant may see 0 0, as with `docker exec -t`).
    if (o.size) resize(o.size);
    const onData = o.tty ? o.onStdout : demuxer(o.onStdout, o.onStderr);
    stream.on("data", (d: Buffer) => onData(d));
    const exited = new Promise<number>((resolve) => {
      let done = false;
      const finish = async () => {
        if (done) return;
        done = true;
        const deadline = Date.now() + EXEC_EXIT_WAIT_MS;
        for (;;) {
          const info = await exec.inspect().catch(() => undefined);
          if (!info || (!info.Running && info.ExitCode !== null) || Date.now() > deadline) {
            // No exit code (the engine lost the exec): 137 as for a killed process.
            resolve(info?.ExitCode ?? 137);
            return;
          }
          await new Promise((r) => setTimeout(r, EXEC_EXIT_POLL_MS));
        }
      };
      stream.on("end", () => void finish());
      stream.on("close", () => void finish());
      stream.on("error", () => void finish());
    });
    let stdinOpen = o.stdin;
    return {
      write: (data) => {
        if (stdinOpen) stream.write(data);
      },
      // A half-close of the hijacked connection is how the engine learns the input ended.
      closeStdin: () => {
        if (!stdinOpen) return;
        stdinOpen = false;
        stream.end();
      },
      resize,
      // The Engine API cannot signal an exec; dropping the connection closes its input (and its
      // terminal, which hangs up a shell on one).
      cancel: () => stream.destroy(),
      exited,
    };
  }
}
