import {
  type ClientDuplexStream,
  type ClientReadableStream,
  credentials,
  type ServerDuplexStream,
  type ServerWritableStream,
} from "@grpc/grpc-js";
import {
  type ExecRequest,
  type ExecResponse,
  type ExecStreamRequest,
  type ExecStreamResponse,
  type LogsRequest,
  type LogsResponse,
  type Node,
  type Pod,
  PodServiceClient,
  type PodServiceServer,
  type PortForwardRequest,
  type PortForwardResponse,
} from "@tskube/api";
import { toServiceError } from "@tskube/grpc";
import type { Logger } from "@tskube/log";
import { errors } from "@tskube/machinery";
import type { Registry } from "./registry.js";

/**
 * The apiserver's PodService: finds the pod's node and relays the call to that node's kubelet
 * (its InternalIP and kubelet port from the Node's status), as Kubernetes proxies logs and exec.
 */
export function createPodProxy(pods: Registry, nodes: Registry, log: Logger): PodServiceServer {
  const clients = new Map<string, PodServiceClient>();

  async function kubeletFor(namespace: string, name: string): Promise<PodServiceClient> {
    const pod = (await pods.get(namespace, name)) as Pod;
    const nodeName = pod.spec?.nodeName;
    if (!nodeName) throw errors.badRequest(`pod ${name} does not have a host assigned`);
    const node = (await nodes.get("", nodeName)) as Node;
    const ip = node.status?.addresses.find((a) => a.type === "InternalIP")?.address;
    const port = node.status?.daemonEndpoints?.kubeletEndpoint?.port;
    if (!ip || !port) throw errors.serviceUnavailable(`node ${nodeName} does not report a kubelet endpoint`);
    const address = `${ip}:${port}`;
    let client = clients.get(address);
    if (!client) {
      client = new PodServiceClient(address, credentials.createInsecure());
      clients.set(address, client);
    }
    return client;
  }

  function relay<Req, Res>(
    call: ServerWritableStream<Req, Res>,
    open: (client: PodServiceClient) => ClientReadableStream<Res>,
    target: { namespace: string; name: string },
  ): void {
    const fail = (err: unknown) =>
      call.emit("error", Object.assign(new Error(String((err as Error).message)), toServiceError(err, log)));
    kubeletFor(target.namespace, target.name).then((client) => {
      const upstream = open(client);
      call.on("cancelled", () => upstream.cancel());
      upstream.on("data", (msg: Res) => call.write(msg));
      upstream.on("end", () => call.end());
      upstream.on("error", (err: Error & { code?: number; details?: string; metadata?: unknown }) => {
        // The kubelet's status (NotFound, BadRequest, …) goes back to the client unchanged.
        call.emit("error", err);
      });
    }, fail);
  }

  /**
   * Relays a bidirectional stream (port-forward, interactive exec) to the kubelet once the first
   * message names the pod; what arrives meanwhile, the client's half-close included, follows in order.
   */
  function relayDuplex<Req, Res>(
    call: ServerDuplexStream<Req, Res>,
    targetOf: (first: Req) => { namespace: string; name: string },
    open: (client: PodServiceClient) => ClientDuplexStream<Req, Res>,
  ): void {
    let upstream: ClientDuplexStream<Req, Res> | undefined;
    const pending: Req[] = [];
    let ended = false;
    let cancelled = false;
    const fail = (err: unknown) =>
      call.emit("error", Object.assign(new Error(String((err as Error).message)), toServiceError(err, log)));
    call.on("data", (msg: Req) => {
      if (upstream) {
        upstream.write(msg);
        return;
      }
      pending.push(msg);
      if (pending.length > 1) return;
      let target: { namespace: string; name: string };
      try {
        target = targetOf(msg);
      } catch (err) {
        fail(err);
        return;
      }
      kubeletFor(target.namespace, target.name).then((client) => {
        if (cancelled) return;
        const up = open(client);
        upstream = up;
        up.on("data", (m: Res) => call.write(m));
        up.on("end", () => call.end());
        // The kubelet's status (NotFound, BadRequest, …) goes back to the client unchanged.
        up.on("error", (err: Error) => call.emit("error", err));
        for (const m of pending.splice(0)) up.write(m);
        if (ended) up.end();
      }, fail);
    });
    call.on("end", () => {
      ended = true;
      upstream?.end();
    });
    call.on("cancelled", () => {
      cancelled = true;
      upstream?.cancel();
    });
  }

  const portForward = (call: ServerDuplexStream<PortForwardRequest, PortForwardResponse>) =>
    relayDuplex(
      call,
      (m) => m,
      (c) => c.portForward(),
    );

  const execStream = (call: ServerDuplexStream<ExecStreamRequest, ExecStreamResponse>) =>
    relayDuplex(
      call,
      (m) => {
        if (!m.start) throw errors.badRequest("the first message of an exec stream must be start");
        return m.start;
      },
      (c) => c.execStream(),
    );

  return {
    portForward,
    logs: (call: ServerWritableStream<LogsRequest, LogsResponse>) =>
      relay(call, (c) => c.logs(call.request), call.request),
    exec: (call: ServerWritableStream<ExecRequest, ExecResponse>) =>
      relay(call, (c) => c.exec(call.request), call.request),
    execStream,
  };
}
