/**
 * How the chaos controller reaches the components it breaks. One interface, two backends: the Docker
 * Engine (compose services and the pod containers kubelets made) and the processes of `pnpm local-up`.
 */

/** What a component is, so actions can pick their targets (the etcd members, a node's kubelet…). */
export type Role =
  | "etcd"
  | "apiserver"
  | "scheduler"
  | "controller-manager"
  | "kubelet"
  | "kube-proxy"
  | "dns";

export interface Target {
  /** The executor's own name for it: a compose service (`node-2`) or a local-up process (`kubelet-2`). */
  name: string;
  role: Role;
  /** The Node a kubelet or kube-proxy belongs to. */
  node?: string;
  running: boolean;
  paused: boolean;
}

/** One container of a pod, as the node's runtime runs it. */
export interface PodContainer {
  /** The executor's handle (container id). */
  id: string;
  namespace: string;
  pod: string;
  container: string;
  node: string;
  running: boolean;
}

/**
 * `crash`: SIGKILL, and the supervisor (compose's `restart: unless-stopped`, local-up) restarts it
 * as after any crash. `hold`: SIGKILL, and it stays down until bringBack, as when an operator has
 * to come and start the machine again.
 */
export type KillMode = "crash" | "hold";

/** One etcd member as `etcdctl endpoint status` and `endpoint hashkv` report it. */
export interface EtcdMemberStatus {
  member: string;
  memberId: string;
  leaderId: string;
  revision: number;
  raftAppliedIndex: number;
  raftTerm: number;
  /** The hash of the key space up to the revision asked for (hashkv --rev). */
  hash?: number;
  hashRevision?: number;
  error?: string;
}

export interface Executor {
  readonly kind: "docker" | "process";
  listTargets(): Promise<Target[]>;
  /** The current incarnation of a running target (start time, pid); undefined while it is down. */
  instance(target: string): Promise<string | undefined>;
  kill(target: string, mode: KillMode): Promise<void>;
  /** Starts a held-down target again (a container start; local-up's restart). */
  bringBack(target: string): Promise<void>;
  pause(target: string): Promise<void>;
  unpause(target: string): Promise<void>;
  /** Pod containers on a node (every node when omitted); sandboxes excluded. */
  podContainers(node?: string): Promise<PodContainer[]>;
  /** SIGKILL to a pod container's process: the kubelet sees it exit and restarts it. */
  killPodContainer(id: string): Promise<void>;
  /** Pauses (or resumes) every pod container and sandbox of a node. */
  pausePods(node: string, paused: boolean): Promise<void>;
  /** Kills every pod container and sandbox of a node (a node losing power). */
  killPods(node: string): Promise<void>;
  /** Every member's status; with hashRevision, each member's hashkv up to it. */
  etcdStatus(hashRevision?: number): Promise<EtcdMemberStatus[]>;
  close(): void;
}

/** `kube-proxy-2` → `node-2`; the executors name a node's kube-proxy after it. */
export function nodeOfKubeProxy(name: string): string | undefined {
  const m = /^kube-proxy-(\d+)$/.exec(name);
  return m ? `node-${m[1]}` : undefined;
}

/** Member and cluster ids are 64-bit: quoted before JSON.parse so two ids never round to one double. */
function quoteIds(json: string): string {
  return json.replace(/"(member_id|leader|cluster_id)":(\d+)/g, '"$1":"$2"');
}

/** Parses `etcdctl endpoint status -w json` output (an array of endpoints, ids as numbers). */
export function parseEndpointStatus(member: string, json: string): EtcdMemberStatus {
  const arr = JSON.parse(quoteIds(json)) as {
    Status?: {
      header?: { member_id?: number | string; revision?: number | string; raft_term?: number | string };
      leader?: number | string;
      raftAppliedIndex?: number | string;
      raftTerm?: number | string;
    };
  }[];
  const s = arr[0]?.Status;
  if (!s) throw new Error(`etcdctl endpoint status of ${member}: no status in ${json.slice(0, 200)}`);
  return {
    member,
    memberId: String(s.header?.member_id ?? ""),
    leaderId: String(s.leader ?? ""),
    revision: Number(s.header?.revision ?? 0),
    raftAppliedIndex: Number(s.raftAppliedIndex ?? 0),
    raftTerm: Number(s.raftTerm ?? s.header?.raft_term ?? 0),
  };
}

/** Parses `etcdctl endpoint hashkv -w json` output. */
export function parseHashKv(member: string, json: string): number {
  const arr = JSON.parse(quoteIds(json)) as { HashKV?: { hash?: number } }[];
  const h = arr[0]?.HashKV;
  if (!h || h.hash === undefined)
    throw new Error(`etcdctl endpoint hashkv of ${member}: no hash in ${json.slice(0, 200)}`);
  return h.hash;
}
