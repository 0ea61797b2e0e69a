import { randomBytes } from "node:crypto";
import type {
  ContainerConfig,
  ContainerStatus,
  ExecResult,
  Runtime,
  SandboxConfig,
  SandboxStatus,
} from "./types.js";

/**
 * A hollow node's runtime (as kubemark's): nothing runs, but sandboxes get addresses and
 * containers go Running after a configurable delay and stay there until stopped.
 */
export class FakeRuntime implements Runtime {
  readonly name = "fake";
  readonly version = "0.1.0";
  private sandboxes = new Map<string, SandboxStatus>();
  private containers = new Map<string, ContainerStatus>();
  private next = 2;

  constructor(
    private readonly podCidrBase: string,
    private readonly startDelayMs = 0,
  ) {}

  async runPodSandbox(config: SandboxConfig): Promise<string> {
    const id = randomBytes(8).toString("hex");
    const [a, b] = this.podCidrBase.split(".");
    const n = this.next++;
    this.sandboxes.set(id, {
      id,
      podUid: config.podUid,
      state: "READY",
      ip: `${a}.${b}.${Math.floor(n / 256) % 256}.${n % 256}`,
      createdAt: Date.now(),
      labels: config.labels,
    });
    return id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    for (const c of this.containers.values()) if (c.sandboxId === id) await this.stopContainer(c.id, 0);
    const s = this.sandboxes.get(id);
    if (s) s.state = "NOTREADY";
  }

  async removePodSandbox(id: string): Promise<void> {
    for (const c of [...this.containers.values()]) if (c.sandboxId === id) this.containers.delete(c.id);
    this.sandboxes.delete(id);
  }

  async listPodSandboxes(): Promise<SandboxStatus[]> {
    return [...this.sandboxes.values()].map((s) => ({ ...s }));
  }

  async createContainer(sandboxId: string, config: ContainerConfig): Promise<string> {
    const id = randomBytes(12).toString("hex");
    this.containers.set(id, {
      id,
      sandboxId,
      name: config.name,
      image: config.image,
      state: "CREATED",
      createdAt: Date.now(),
      startedAt: 0,
      finishedAt: 0,
      exitCode: 0,
      reason: "",
      message: "",
      labels: config.labels,
    });
    return id;
  }

  async startContainer(id: string): Promise<void> {
    if (this.startDelayMs) await new Promise((r) => setTimeout(r, this.startDelayMs));
    const c = this.containers.get(id);
    if (!c) throw new Error(`container ${id} not found`);
    c.state = "RUNNING";
    c.startedAt = Date.now();
  }

  async stopContainer(id: string, _timeoutSeconds = 0): Promise<void> {
    const c = this.containers.get(id);
    if (!c || c.state !== "RUNNING") return;
    c.state = "EXITED";
    c.finishedAt = Date.now();
    c.exitCode = 143;
    c.reason = "Error";
  }

  async removeContainer(id: string): Promise<void> {
    this.containers.delete(id);
  }

  async listContainers(): Promise<ContainerStatus[]> {
    return [...this.containers.values()].map((c) => ({ ...c }));
  }

  async readLog(_id: string, offset: number): Promise<{ data: Buffer; next: number }> {
    return { data: Buffer.alloc(0), next: offset };
  }

  async execSync(): Promise<ExecResult> {
    return { exitCode: 0, stdout: "", stderr: "" };
  }
}
