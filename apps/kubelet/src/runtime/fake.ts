import { randomBytes } from "node:crypto";
import type {
  ContainerConfig,
  ContainerStatus,
  ExecResult,
  ExecSession,
  Image,
  ImageService,
  Runtime,
  SandboxConfig,
  SandboxStatus,
} from "./types.js";

/**
 * Pretend pulls: an image is present once pulled, and a pull takes the runtime's start delay, so a
 * hollow node's pods go through Pulling/Pulled as a real node's do.
 */
class FakeImages implements ImageService {
  private readonly present = new Map<string, Image>();

  constructor(private readonly pullDelayMs: number) {}

  async imageStatus(image: string): Promise<Image | undefined> {
    return this.present.get(image);
  }

  async pullImage(image: string): Promise<Image> {
    if (this.pullDelayMs) await new Promise((r) => setTimeout(r, this.pullDelayMs));
    const got = { id: `sha256:${randomBytes(32).toString("hex")}`, repoTags: [image], size: 0 };
    this.present.set(image, got);
    return got;
  }
}

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
  readonly images: FakeImages;

  constructor(
    private readonly podCidrBase: string,
    private readonly startDelayMs = 0,
  ) {
    this.images = new FakeImages(startDelayMs);
  }

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
    if (c?.state !== "RUNNING") return;
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

  /** Nothing runs: the command exits 0 at once, with no output, whatever it is given. */
  async exec(): Promise<ExecSession> {
    return {
      write: () => {},
      closeStdin: () => {},
      resize: () => {},
      cancel: () => {},
      exited: Promise.resolve(0),
    };
  }
}
