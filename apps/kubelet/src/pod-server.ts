import { connect, type Socket } from "node:net";
import type { ServerDuplexStream, ServerWritableStream } from "@grpc/grpc-js";
import {
  type ExecRequest,
  ExecResponse,
  type LogsRequest,
  LogsResponse,
  type Pod,
  type PodServiceServer,
  type PortForwardRequest,
  PortForwardResponse,
} from "@tskube/api";
import { toServiceError } from "@tskube/grpc";
import type { Logger } from "@tskube/log";
import { errors } from "@tskube/machinery";
import type { Kubelet } from "./kubelet.js";
import { type ContainerStatus, LABEL_ATTEMPT, LABEL_CONTAINER_NAME, type Runtime } from "./runtime/types.js";

const POD_GR = { group: "", resource: "pods", kind: "Pod" };
const FOLLOW_POLL_MS = 200;

function containerName(pod: Pod, requested: string): string {
  const names = (pod.spec?.containers ?? []).map((c) => c.name);
  if (requested) {
    if (!names.includes(requested)) {
      throw errors.badRequest(`container ${requested} is not valid for pod ${pod.metadata!.name}`);
    }
    return requested;
  }
  if (names.length === 1) return names[0]!;
  throw errors.badRequest(
    `a container name must be specified for pod ${pod.metadata!.name}, choose one of: [${names.join(" ")}]`,
  );
}

/** Lines at the end of a log, as `kubectl logs --tail` gives them. */
function tail(data: Buffer, lines: number): Buffer {
  if (lines < 0) return data;
  let end = data.length;
  if (end > 0 && data[end - 1] === 0x0a) end--;
  let count = 0;
  for (let i = end - 1; i >= 0; i--) {
    if (data[i] === 0x0a && ++count === lines) return data.subarray(i + 1);
  }
  return lines === 0 ? Buffer.alloc(0) : data;
}

/**
 * The kubelet's PodService: logs and exec for the pods on this node, read from the runtime. The
 * apiserver proxies clients' calls here.
 */
export function createPodService(kubelet: Kubelet, runtime: Runtime, log: Logger): PodServiceServer {
  async function attemptsOf(pod: Pod, name: string): Promise<ContainerStatus[]> {
    return (await kubelet.syncer.containersOf(pod.metadata!.uid))
      .filter((c) => c.labels[LABEL_CONTAINER_NAME] === name)
      .sort((a, b) => Number(a.labels[LABEL_ATTEMPT]) - Number(b.labels[LABEL_ATTEMPT]));
  }

  function findPod(namespace: string, name: string): Pod {
    const pod = kubelet.pods.store.getByName(namespace, name);
    if (!pod) throw errors.notFound(POD_GR, name);
    return pod;
  }

  async function serveLogs(call: ServerWritableStream<LogsRequest, LogsResponse>): Promise<void> {
    const req = call.request;
    const pod = findPod(req.namespace, req.name);
    const name = containerName(pod, req.container);
    const attempts = await attemptsOf(pod, name);
    const target = req.previous ? attempts.at(-2) : attempts.at(-1);
    if (!target) {
      if (req.previous)
        throw errors.badRequest(`previous terminated container "${name}" in pod "${req.name}" not found`);
      throw errors.badRequest(
        `container "${name}" in pod "${req.name}" is waiting to start: ContainerCreating`,
      );
    }
    let cancelled = false;
    call.on("cancelled", () => {
      cancelled = true;
    });
    const first = await runtime.readLog(target.id, 0);
    const initial = req.tailLines !== undefined ? tail(first.data, req.tailLines) : first.data;
    if (initial.length) call.write(LogsResponse.fromPartial({ data: initial }));
    let offset = first.next;
    while (req.follow && !cancelled) {
      const state = (await runtime.listContainers()).find((c) => c.id === target.id)?.state;
      const more = await runtime.readLog(target.id, offset);
      if (more.data.length) call.write(LogsResponse.fromPartial({ data: more.data }));
      offset = more.next;
      if (state !== "RUNNING" && state !== "CREATED") break;
      await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
    }
    call.end();
  }

  async function serveExec(call: ServerWritableStream<ExecRequest, ExecResponse>): Promise<void> {
    const req = call.request;
    const pod = findPod(req.namespace, req.name);
    const name = containerName(pod, req.container);
    const running = (await attemptsOf(pod, name)).at(-1);
    if (!running || running.state !== "RUNNING") {
      throw errors.badRequest(
        `cannot exec in a stopped container; container ${name} of pod ${req.name} is not running`,
      );
    }
    if (req.command.length === 0)
      throw errors.badRequest("you must specify at least one command for the container");
    const result = await runtime.execSync(running.id, req.command, 60_000);
    if (result.stdout) call.write(ExecResponse.fromPartial({ stdout: Buffer.from(result.stdout) }));
    if (result.stderr) call.write(ExecResponse.fromPartial({ stderr: Buffer.from(result.stderr) }));
    call.write(ExecResponse.fromPartial({ exitCode: result.exitCode }));
    call.end();
  }

  const fail = (call: ServerWritableStream<unknown, unknown>) => (err: unknown) =>
    call.emit("error", Object.assign(new Error(String((err as Error).message)), toServiceError(err, log)));

  /** Connects the stream to podIP:port once the first message says which pod and port. */
  function servePortForward(call: ServerDuplexStream<PortForwardRequest, PortForwardResponse>): void {
    let socket: Socket | undefined;
    const fail = (err: unknown) =>
      call.emit("error", Object.assign(new Error(String((err as Error).message)), toServiceError(err, log)));
    call.on("data", (msg: PortForwardRequest) => {
      if (socket) {
        if (msg.data.length) socket.write(msg.data);
        return;
      }
      try {
        const pod = findPod(msg.namespace, msg.name);
        const ip = pod.status?.podIp;
        if (!ip) throw errors.badRequest(`pod ${msg.name} has no IP yet`);
        if (!Number.isInteger(msg.port) || msg.port < 1 || msg.port > 65535)
          throw errors.badRequest(`invalid port ${msg.port}`);
        socket = connect({ host: ip, port: msg.port });
        socket.on("data", (d: Buffer) => call.write(PortForwardResponse.fromPartial({ data: d })));
        socket.on("end", () => call.end());
        socket.on("error", (err) =>
          fail(
            errors.serviceUnavailable(`error forwarding port ${msg.port} to pod ${msg.name}: ${err.message}`),
          ),
        );
        if (msg.data.length) socket.write(msg.data);
      } catch (err) {
        fail(err);
      }
    });
    call.on("end", () => socket?.end());
    call.on("cancelled", () => socket?.destroy());
  }

  return {
    portForward: servePortForward,
    logs: (call) => void serveLogs(call).catch(fail(call as ServerWritableStream<unknown, unknown>)),
    exec: (call) => void serveExec(call).catch(fail(call as ServerWritableStream<unknown, unknown>)),
  };
}
