import { Lease, Node, NodeCondition } from "@tskube/api";
import type { Client } from "@tskube/client";
import { type Clock, realClock, sleep } from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { isAlreadyExists, isConflict, isNotFound } from "@tskube/machinery";
import type { Runtime } from "./runtime/types.js";

export interface NodeAgentOptions {
  client: Client;
  nodeName: string;
  nodeIp: string;
  podCidr: string;
  capacity: { cpu: string; memory: string; pods: string };
  labels: Record<string, string>;
  runtime: Runtime;
  kubeletPort: number;
  leaseDurationSeconds: number;
  /** Written on the node Lease with each renewal (the kubelet's timing profile and timers). */
  leaseAnnotations?: Record<string, string>;
  leaseRenewIntervalMs: number;
  statusUpdateIntervalMs: number;
  log: Logger;
  clock?: Clock;
}

export const KUBELET_VERSION = "v0.1.0-tskube";
const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const microTime = (ms: number) => new Date(ms).toISOString().replace("Z", "000Z");

/**
 * The node side of the kubelet: registers the Node, renews its Lease in kube-node-lease (the
 * heartbeat the node lifecycle controller watches) and keeps the Ready condition current.
 */
export class NodeAgent {
  private readonly clock: Clock;

  constructor(private readonly opts: NodeAgentOptions) {
    this.clock = opts.clock ?? realClock;
  }

  private conditions(now: number, existing: readonly NodeCondition[]): NodeCondition[] {
    const keep = (type: string, status: string) => {
      const prev = existing.find((c) => c.type === type);
      return prev && prev.status === status ? prev.lastTransitionTime : rfc3339(now);
    };
    const pressure = (type: string, reason: string, message: string) =>
      NodeCondition.fromPartial({
        type,
        status: "False",
        reason,
        message,
        lastHeartbeatTime: rfc3339(now),
        lastTransitionTime: keep(type, "False"),
      });
    return [
      pressure("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
      pressure("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
      pressure("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
      NodeCondition.fromPartial({
        type: "Ready",
        status: "True",
        reason: "KubeletReady",
        message: "kubelet is posting ready status",
        lastHeartbeatTime: rfc3339(now),
        lastTransitionTime: keep("Ready", "True"),
      }),
    ];
  }

  private desiredStatus(node: Node | undefined, now: number) {
    const o = this.opts;
    return {
      capacity: { cpu: o.capacity.cpu, memory: o.capacity.memory, pods: o.capacity.pods },
      allocatable: { cpu: o.capacity.cpu, memory: o.capacity.memory, pods: o.capacity.pods },
      conditions: this.conditions(now, node?.status?.conditions ?? []),
      addresses: [
        { type: "InternalIP", address: o.nodeIp },
        { type: "Hostname", address: o.nodeName },
      ],
      daemonEndpoints: { kubeletEndpoint: { port: o.kubeletPort } },
      nodeInfo: {
        kubeletVersion: KUBELET_VERSION,
        kubeProxyVersion: KUBELET_VERSION,
        containerRuntimeVersion: `${o.runtime.name}://${o.runtime.version}`,
        operatingSystem: process.platform,
        architecture: process.arch === "x64" ? "amd64" : process.arch,
        osImage: "tskube",
        kernelVersion: process.version,
      },
    };
  }

  /** Creates the Node, or takes over an existing one (a restarted kubelet) keeping its spec. */
  async register(): Promise<void> {
    const nodes = this.opts.client.resource<Node>("nodes");
    const now = this.clock.now();
    try {
      await nodes.create(
        Node.fromPartial({
          metadata: {
            name: this.opts.nodeName,
            labels: {
              "kubernetes.io/hostname": this.opts.nodeName,
              "kubernetes.io/os": "linux",
              ...this.opts.labels,
            },
          },
          spec: { podCidr: this.opts.podCidr, podCidrs: [this.opts.podCidr] },
          status: this.desiredStatus(undefined, now),
        }),
      );
      this.opts.log.info({ node: this.opts.nodeName }, "registered node");
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      await this.updateStatus();
      this.opts.log.info({ node: this.opts.nodeName }, "node already registered; updated its status");
    }
  }

  async updateStatus(): Promise<void> {
    const nodes = this.opts.client.resource<Node>("nodes");
    for (let i = 0; i < 5; i++) {
      const node = await nodes.get(this.opts.nodeName);
      try {
        await nodes.updateStatus(
          Node.fromPartial({ ...node, status: this.desiredStatus(node, this.clock.now()) }),
        );
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  }

  async renewLease(): Promise<void> {
    const leases = this.opts.client.resource<Lease>("leases");
    const now = this.clock.now();
    const spec = {
      holderIdentity: this.opts.nodeName,
      leaseDurationSeconds: this.opts.leaseDurationSeconds,
      renewTime: microTime(now),
    };
    try {
      const cur = await leases.get(this.opts.nodeName, { namespace: "kube-node-lease" });
      const metadata = cur.metadata && {
        ...cur.metadata,
        annotations: { ...cur.metadata.annotations, ...this.opts.leaseAnnotations },
      };
      await leases.update(Lease.fromPartial({ ...cur, metadata, spec: { ...cur.spec, ...spec } }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await leases.create(
        Lease.fromPartial({
          metadata: {
            name: this.opts.nodeName,
            namespace: "kube-node-lease",
            annotations: { ...this.opts.leaseAnnotations },
            ownerReferences: [],
          },
          spec: { ...spec, acquireTime: microTime(now) },
        }),
      );
    }
  }

  /** Heartbeats until the signal aborts; failures are logged and retried on the next beat. */
  async run(signal: AbortSignal): Promise<void> {
    const loop = async (every: number, what: string, fn: () => Promise<void>) => {
      while (!signal.aborted) {
        await fn().catch((err) => this.opts.log.warn({ err: (err as Error).message }, `${what} failed`));
        await sleep(this.clock, every, signal);
      }
    };
    await Promise.all([
      loop(this.opts.leaseRenewIntervalMs, "lease renewal", () => this.renewLease()),
      loop(this.opts.statusUpdateIntervalMs, "node status update", () => this.updateStatus()),
    ]);
  }
}
