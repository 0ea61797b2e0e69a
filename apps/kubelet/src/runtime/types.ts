/**
 * The container runtime interface the kubelet drives, shaped like Kubernetes' CRI: a pod is a
 * sandbox (its network identity) plus containers started inside it. Runtimes label what they create
 * so a restarted kubelet finds and adopts it.
 */

export const LABEL_POD_UID = "io.tskube.pod.uid";
export const LABEL_POD_NAME = "io.tskube.pod.name";
export const LABEL_POD_NAMESPACE = "io.tskube.pod.namespace";
export const LABEL_CONTAINER_NAME = "io.tskube.container.name";
export const LABEL_ATTEMPT = "io.tskube.container.attempt";

export interface SandboxConfig {
  podUid: string;
  name: string;
  namespace: string;
  hostname: string;
  labels: Record<string, string>;
  /** CRI's DNSConfig: the pod's resolv.conf; absent, the runtime's own default. */
  dnsConfig?: { servers: string[]; searches: string[]; options: string[] };
}

export type SandboxState = "READY" | "NOTREADY";

export interface SandboxStatus {
  id: string;
  podUid: string;
  state: SandboxState;
  /** The pod's IP. */
  ip: string;
  createdAt: number;
  labels: Record<string, string>;
}

export interface Mount {
  containerPath: string;
  hostPath: string;
  readOnly: boolean;
}

export interface ContainerConfig {
  name: string;
  image: string;
  command: string[];
  args: string[];
  env: { name: string; value: string }[];
  workingDir: string;
  mounts: Mount[];
  labels: Record<string, string>;
  /** Limits the runtime enforces where it can. */
  cpuMillis?: number;
  memoryBytes?: number;
}

export type ContainerState = "CREATED" | "RUNNING" | "EXITED" | "UNKNOWN";

export interface ContainerStatus {
  id: string;
  sandboxId: string;
  name: string;
  image: string;
  state: ContainerState;
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  /** "Completed", "Error", "OOMKilled", … as the kubelet reports them. */
  reason: string;
  message: string;
  labels: Record<string, string>;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** An image on the node (CRI's Image): what the runtime reports for a reference it holds. */
export interface Image {
  /** The runtime's image id (docker: the config digest, sha256:…). */
  id: string;
  repoTags: string[];
  /** Bytes on disk. */
  size: number;
}

/**
 * CRI's ImageService: the kubelet decides when to pull (imagePullPolicy, back-off, events); the
 * runtime only answers whether an image is present and pulls one.
 */
export interface ImageService {
  /** The image if the node has it, undefined if not. */
  imageStatus(image: string): Promise<Image | undefined>;
  /** Pulls the image; rejects with the registry's or engine's message when it cannot. */
  pullImage(image: string): Promise<Image>;
}

/** Terminal dimensions in character cells (CRI's and Kubernetes' TerminalSize). */
export interface TerminalSize {
  width: number;
  height: number;
}

export interface ExecOptions {
  command: string[];
  /** Attach the caller's input to the command's standard input. */
  stdin: boolean;
  /** Run the command on a terminal: stdout and stderr arrive merged on stdout. */
  tty: boolean;
  /** The terminal's first size (tty only). */
  size?: TerminalSize;
  onStdout(data: Buffer): void;
  onStderr(data: Buffer): void;
}

/** A running exec (CRI's streaming Exec): input goes in, output arrives through the callbacks. */
export interface ExecSession {
  write(data: Uint8Array): void;
  /** End of input: the command reads EOF. */
  closeStdin(): void;
  resize(size: TerminalSize): void;
  /** The caller went away: stop relaying (and end the command where the runtime can). */
  cancel(): void;
  /** The exit code, once the command exited and its output was delivered. */
  readonly exited: Promise<number>;
}

export interface Runtime {
  readonly name: string;
  readonly version: string;
  /**
   * Set when pods run with less isolation than a container runtime gives (the kubelet says so once
   * per pod in an event); undefined when they are isolated.
   */
  readonly isolationWarning?: string | undefined;
  /** null: the runtime runs no images (every image counts as present and is never pulled). */
  readonly images: ImageService | null;
  runPodSandbox(config: SandboxConfig): Promise<string>;
  stopPodSandbox(id: string): Promise<void>;
  removePodSandbox(id: string): Promise<void>;
  listPodSandboxes(): Promise<SandboxStatus[]>;
  createContainer(sandboxId: string, config: ContainerConfig): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** SIGTERM, then SIGKILL after timeoutSeconds. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  listContainers(): Promise<ContainerStatus[]>;
  /** The container's log (stdout and stderr, in order) from a byte offset; next is where to go on. */
  readLog(id: string, offset: number): Promise<{ data: Buffer; next: number }>;
  execSync(id: string, command: string[], timeoutMs: number): Promise<ExecResult>;
  /** Runs a command in a running container with its standard streams attached. */
  exec(id: string, opts: ExecOptions): Promise<ExecSession>;
}
