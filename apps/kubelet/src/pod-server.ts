import { connect, type Socket } from "node:net";
import type { ServerDuplexStream, ServerWritableStream } from "@grpc/grpc-js";
import {
  type ExecRequest,
  ExecResponse,
  type ExecStreamRequest,
  ExecStreamResponse,
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
import {
  type ContainerStatus,
  type ExecSession,
  LABEL_ATTEMPT,
  LABEL_CONTAINER_NAME,
  type Runtime,
} from "./runtime/types.js";

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

  /** The running container an exec goes into, or kubectl's error. */
  async function execTarget(namespace: string, podName: string, container: string, command: string[]) {
    const pod = findPod(namespace, podName);
    const name = containerName(pod, container);
    const running = (await attemptsOf(pod, name)).at(-1);
    if (running?.state !== "RUNNING") {
      throw errors.badRequest(
        `cannot exec in a stopped container; container ${name} of pod ${podName} is not running`,
      );
    }
    if (command.length === 0)
      throw errors.badRequest("you must specify at least one command for the container");
    return running;
  }

  /** Exec with its input given up front: written, closed, then the output streams back. */
  async function serveExec(call: ServerWritableStream<ExecRequest, ExecResponse>): Promise<void> {
    const req = call.request;
    const target = await execTarget(req.namespace, req.name, req.container, req.command);
    const session = await runtime.exec(target.id, {
      command: req.command,
      stdin: req.stdin.length > 0,
      tty: false,
      onStdout: (d) => call.write(ExecResponse.fromPartial({ stdout: d })),
      onStderr: (d) => call.write(ExecResponse.fromPartial({ stderr: d })),
    });
    call.on("cancelled", () => session.cancel());
    if (req.stdin.length) {
      session.write(req.stdin);
      session.closeStdin();
    }
    call.write(ExecResponse.fromPartial({ exitCode: await session.exited }));
    call.end();
  }

  /**
   * Interactive exec: the first message starts the command; input, sizes and the end of input
   * follow. The client half-closing its side also ends the input. Messages that arrive while the
   * command is being started wait for it.
   */
  function serveExecStream(call: ServerDuplexStream<ExecStreamRequest, ExecStreamResponse>): void {
    let session: ExecSession | undefined;
    let starting = false;
    let cancelled = false;
    const early: ExecStreamRequest[] = [];
    let endedEarly = false;
    const fail = (err: unknown) =>
      call.emit("error", Object.assign(new Error(String((err as Error).message)), toServiceError(err, log)));
    const apply = (s: ExecSession, msg: ExecStreamRequest) => {
      if (msg.stdin?.length) s.write(msg.stdin);
      if (msg.closeStdin) s.closeStdin();
      if (msg.resize) s.resize(msg.resize);
    };
    call.on("data", (msg: ExecStreamRequest) => {
      if (session) return apply(session, msg);
      if (starting) return void early.push(msg);
      const start = msg.start;
      if (!start) return fail(errors.badRequest("the first message of an exec stream must be start"));
      starting = true;
      void (async () => {
        const target = await execTarget(start.namespace, start.name, start.container, start.command);
        const s = await runtime.exec(target.id, {
          command: start.command,
          stdin: start.stdin,
          tty: start.tty,
          ...(start.size ? { size: start.size } : {}),
          onStdout: (d) => call.write(ExecStreamResponse.fromPartial({ stdout: d })),
          onStderr: (d) => call.write(ExecStreamResponse.fromPartial({ stderr: d })),
        });
        session = s;
        if (cancelled) return s.cancel();
        for (const m of early.splice(0)) apply(s, m);
        if (endedEarly) s.closeStdin();
        const code = await s.exited;
        if (cancelled) return;
        call.write(ExecStreamResponse.fromPartial({ exitCode: code }));
        call.end();
      })().catch(fail);
    });
    call.on("end", () => {
      if (session) session.closeStdin();
      else endedEarly = true;
    });
    call.on("cancelled", () => {
      cancelled = true;
      session?.cancel();
    });
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
    execStream: serveExecStream,
  };
}
