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

export interface Runtime {
  readonly name: string;
  readonly version: string;
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
}
