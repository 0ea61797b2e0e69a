import {
  type ChannelOptions,
  type ClientDuplexStream,
  type ClientReadableStream,
  credentials,
  status as GrpcStatus,
} from "@grpc/grpc-js";
import {
  type Any,
  type APIResource,
  BindRequest,
  type BindResponse,
  CreateRequest,
  type CreateResponse,
  DeleteCollectionRequest,
  type DeleteCollectionResponse,
  DeleteRequest,
  type DeleteResponse,
  DiscoveryRequest,
  type DiscoveryResponse,
  ExecRequest,
  type ExecResponse,
  type ExecStreamRequest,
  type ExecStreamResponse,
  GetRequest,
  type GetResponse,
  type KindInfo,
  type KubeObject,
  kindForAlias,
  kindForResource,
  ListRequest,
  type ListResponse,
  LogsRequest,
  type LogsResponse,
  PatchRequest,
  type PatchResponse,
  PodServiceClient,
  type PortForwardRequest,
  type PortForwardResponse,
  pack,
  ResourceServiceClient,
  ResourceServiceService,
  UpdateRequest,
  type UpdateResponse,
  UpdateStatusRequest,
  type UpdateStatusResponse,
  unpack,
  WatchRequest,
  type WatchResponse,
} from "@tskube/api";
// The channel alone: the package index also loads the server side (express, reflection).
import { UnaryChannel, type UnaryMethod } from "@tskube/grpc/unary-channel";
import { ApiError } from "@tskube/machinery";
import { waitForConnection } from "./connect.js";
import { fromServiceError, isRetriable } from "./errors.js";
import type {
  ClientOptions,
  DeleteOptions,
  ListOptions,
  ListResult,
  PatchOptions,
  ResourceClient,
  WatchEvent,
  WatchEventType,
  WatchOptions,
  WriteOptions,
} from "./types.js";

const CHANNEL_OPTIONS: ChannelOptions = {
  // Pings notice a dead apiserver under an idle watch stream (a SIGKILLed peer on another host
  // sends no RST).
  "grpc.keepalive_time_ms": 10_000,
  "grpc.keepalive_timeout_ms": 5_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
  "grpc.max_send_message_length": 16 * 1024 * 1024,
  "grpc.initial_reconnect_backoff_ms": 200,
  "grpc.max_reconnect_backoff_ms": 2_000,
};

export interface LogsOptions {
  namespace: string;
  name: string;
  container?: string;
  follow?: boolean;
  tailLines?: number;
  previous?: boolean;
  signal?: AbortSignal;
}

export interface ExecOptions {
  namespace: string;
  name: string;
  container?: string;
  command: string[];
  stdin?: Uint8Array;
  signal?: AbortSignal;
}

export interface BindOptions {
  namespace: string;
  name: string;
  /** Bind only if the pod still has this uid. */
  uid?: string;
  node: string;
}

export interface Client {
  resource<T extends KubeObject = KubeObject>(kind: KindInfo<T> | string): ResourceClient<T>;
  /** Assigns a pod to a node (pods/binding); Conflict when it is already assigned or was replaced. */
  bind(opts: BindOptions): Promise<KubeObject>;
  /** A container's log as chunks (the apiserver proxies to the pod's kubelet). */
  logs(opts: LogsOptions): AsyncIterable<Uint8Array>;
  /** Runs a command in a container: output chunks, then a message with the exit code. */
  exec(opts: ExecOptions): AsyncIterable<ExecResponse>;
  /** One TCP connection to a pod's port as a bidirectional stream (write the target first). */
  portForward(): ClientDuplexStream<PortForwardRequest, PortForwardResponse>;
  /** An exec with its streams attached (stdin, terminal sizes) as a bidirectional stream (start first). */
  execStream(): ClientDuplexStream<ExecStreamRequest, ExecStreamResponse>;
  discovery(): Promise<APIResource[]>;
  /** The address calls currently go to. */
  currentServer(): string;
  close(): void;
}

type Stub = ResourceServiceClient;

/**
 * The typed API client. It talks to one apiserver at a time and moves to the next address when a
 * call finds the server unavailable, so any surviving apiserver keeps every component working.
 */
export function createClient(opts: ClientOptions): Client {
  if (opts.servers.length === 0) throw new Error("createClient: at least one server address is required");
  const channelOptions: ChannelOptions = opts.userAgent
    ? { ...CHANNEL_OPTIONS, "grpc.primary_user_agent": opts.userAgent }
    : CHANNEL_OPTIONS;
  const stubs: Stub[] = opts.servers.map(
    (s) => new ResourceServiceClient(s, credentials.createInsecure(), channelOptions),
  );
  const podStubs = opts.servers.map(
    (s) => new PodServiceClient(s, credentials.createInsecure(), channelOptions),
  );
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const connectTimeoutMs = Math.min(opts.connectTimeoutMs ?? 5_000, timeoutMs);
  // Unary calls (every read and write) take the lean channel; streams stay on grpc-js.
  const channels = opts.servers.map(
    (s) =>
      new UnaryChannel(s, {
        connectTimeoutMs,
        keepaliveMs: CHANNEL_OPTIONS["grpc.keepalive_time_ms"],
        keepaliveTimeoutMs: CHANNEL_OPTIONS["grpc.keepalive_timeout_ms"],
        maxReceiveBytes: CHANNEL_OPTIONS["grpc.max_receive_message_length"],
        ...(opts.userAgent ? { userAgent: opts.userAgent } : {}),
      }),
  );
  const retries = opts.retries ?? 5;
  let current = 0;

  const failover = (from: number) => {
    if (current === from) current = (current + 1) % stubs.length;
  };
  const connect = (index: number) =>
    waitForConnection(stubs[index]!.getChannel(), opts.servers[index]!, connectTimeoutMs);

  async function unary<Req, Res>(
    method: UnaryMethod<Req, Res>,
    req: Req,
    signal?: AbortSignal,
  ): Promise<Res> {
    let lastErr: unknown;
    for (let attempt = 0; attempt <= retries; attempt++) {
      signal?.throwIfAborted();
      const index = current;
      try {
        return await channels[index]!.call(method, req, { deadline: Date.now() + timeoutMs, signal });
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        lastErr = err;
        if (!isRetriable(err)) throw fromServiceError(err);
        failover(index);
        // Every address was tried once: back off before the next round.
        if ((attempt + 1) % stubs.length === 0 && attempt < retries)
          await sleep(Math.min(100 * 2 ** Math.floor(attempt / stubs.length), 2_000));
      }
    }
    throw fromServiceError(lastErr);
  }

  function resourceClient<T extends KubeObject>(kind: KindInfo<T>): ResourceClient<T> {
    const resource = kind.resource;
    const ns = (namespace: string | undefined) => (kind.namespaced ? (namespace ?? "") : "");
    const objNs = (obj: T) => (kind.namespaced ? obj.metadata?.namespace || "default" : "");
    const withTypeTag = (obj: T): T => (obj.$type ? obj : ({ ...obj, $type: kind.messageType.$type } as T));
    const one = (any: Any | undefined) => unpack<T>(any);

    const list = async (o: ListOptions = {}): Promise<ListResult<T>> => {
      const res = await unary<ListRequest, ListResponse>(
        ResourceServiceService.list,
        ListRequest.fromPartial({
          resource,
          namespace: ns(o.namespace),
          labelSelector: o.labelSelector ?? "",
          fieldSelector: o.fieldSelector ?? "",
          limit: o.limit ?? 0,
          continue: o.continue ?? "",
          resourceVersion: o.resourceVersion ?? "",
        }),
        o.signal,
      );
      const out: ListResult<T> = {
        items: res.items.map(one),
        resourceVersion: res.resourceVersion,
        continue: res.continue,
      };
      if (res.remainingItemCount !== undefined) out.remainingItemCount = res.remainingItemCount;
      return out;
    };

    return {
      kind,
      async create(obj: T, w: WriteOptions = {}) {
        const res = await unary<CreateRequest, CreateResponse>(
          ResourceServiceService.create,
          CreateRequest.fromPartial({
            resource,
            namespace: objNs(obj),
            object: pack(withTypeTag(obj)),
            dryRun: w.dryRun ?? false,
            fieldManager: w.fieldManager ?? opts.userAgent ?? "",
          }),
        );
        return one(res.object);
      },
      async get(name, o = {}) {
        const res = await unary<GetRequest, GetResponse>(
          ResourceServiceService.get,
          GetRequest.fromPartial({ resource, namespace: ns(o.namespace), name }),
          o.signal,
        );
        return one(res.object);
      },
      list,
      async listAll(o: ListOptions = {}) {
        const limit = o.limit ?? 500;
        const first = await list({ ...o, limit });
        const items = [...first.items];
        let token = first.continue;
        while (token) {
          const page = await list({ ...o, limit, continue: token });
          items.push(...page.items);
          token = page.continue;
        }
        return { items, resourceVersion: first.resourceVersion, continue: "" };
      },
      async update(obj: T, w: WriteOptions = {}) {
        const res = await unary<UpdateRequest, UpdateResponse>(
          ResourceServiceService.update,
          UpdateRequest.fromPartial({
            resource,
            namespace: objNs(obj),
            object: pack(withTypeTag(obj)),
            dryRun: w.dryRun ?? false,
            fieldManager: w.fieldManager ?? opts.userAgent ?? "",
          }),
        );
        return one(res.object);
      },
      async updateStatus(obj: T) {
        const res = await unary<UpdateStatusRequest, UpdateStatusResponse>(
          ResourceServiceService.updateStatus,
          UpdateStatusRequest.fromPartial({
            resource,
            namespace: objNs(obj),
            object: pack(withTypeTag(obj)),
          }),
        );
        return one(res.object);
      },
      async patch(name, patch, o: PatchOptions = {}) {
        const type = o.type ?? "merge";
        const res = await unary<PatchRequest, PatchResponse>(
          ResourceServiceService.patch,
          PatchRequest.fromPartial({
            resource,
            namespace: ns(o.namespace ?? (kind.namespaced ? "default" : "")),
            name,
            patchType:
              type === "json"
                ? "application/json-patch+json"
                : type === "strategic"
                  ? "application/strategic-merge-patch+json"
                  : "application/merge-patch+json",
            patch: typeof patch === "string" ? patch : JSON.stringify(patch),
            status: o.status ?? false,
            dryRun: o.dryRun ?? false,
            fieldManager: o.fieldManager ?? opts.userAgent ?? "",
          }),
        );
        return one(res.object);
      },
      async delete(name, o: DeleteOptions = {}) {
        const res = await unary<DeleteRequest, DeleteResponse>(
          ResourceServiceService.delete,
          DeleteRequest.fromPartial({
            resource,
            namespace: ns(o.namespace ?? (kind.namespaced ? "default" : "")),
            name,
            options: deleteOptions(o),
          }),
        );
        return { object: one(res.object), deleted: res.deleted };
      },
      async deleteCollection(o: ListOptions & DeleteOptions = {}) {
        const res = await unary<DeleteCollectionRequest, DeleteCollectionResponse>(
          ResourceServiceService.deleteCollection,
          DeleteCollectionRequest.fromPartial({
            resource,
            namespace: ns(o.namespace),
            labelSelector: o.labelSelector ?? "",
            fieldSelector: o.fieldSelector ?? "",
            options: deleteOptions(o),
          }),
        );
        return res.items.map(one);
      },
      watch(o: WatchOptions = {}) {
        return watchStream<T>(
          () => current,
          (i) => stubs[i]!,
          connect,
          failover,
          WatchRequest.fromPartial({
            resource,
            namespace: ns(o.namespace),
            labelSelector: o.labelSelector ?? "",
            fieldSelector: o.fieldSelector ?? "",
            resourceVersion: o.resourceVersion ?? "",
            allowWatchBookmarks: o.allowWatchBookmarks ?? false,
          }),
          o.signal,
        );
      },
    };
  }

  return {
    resource<T extends KubeObject>(kind: KindInfo<T> | string): ResourceClient<T> {
      const k = typeof kind === "string" ? (kindForResource(kind) ?? kindForAlias(kind)) : kind;
      if (!k) throw new Error(`unknown resource ${JSON.stringify(kind)}`);
      return resourceClient(k as KindInfo<T>);
    },
    async bind(o: BindOptions) {
      const res = await unary<BindRequest, BindResponse>(
        ResourceServiceService.bind,
        BindRequest.fromPartial({
          namespace: o.namespace,
          name: o.name,
          uid: o.uid ?? "",
          targetNode: o.node,
        }),
      );
      return unpack(res.object);
    },
    async discovery() {
      const res = await unary<DiscoveryRequest, DiscoveryResponse>(
        ResourceServiceService.discovery,
        DiscoveryRequest.fromPartial({}),
      );
      return res.resources;
    },
    logs(o: LogsOptions) {
      const req = LogsRequest.fromPartial({
        namespace: o.namespace,
        name: o.name,
        container: o.container ?? "",
        follow: o.follow ?? false,
        tailLines: o.tailLines,
        previous: o.previous ?? false,
      });
      return mapStream(
        () => podStubs[current]!.logs(req),
        (m: LogsResponse) => m.data,
        o.signal,
      );
    },
    exec(o: ExecOptions) {
      const req = ExecRequest.fromPartial({
        namespace: o.namespace,
        name: o.name,
        container: o.container ?? "",
        command: o.command,
        stdin: o.stdin ?? new Uint8Array(),
      });
      return mapStream(
        () => podStubs[current]!.exec(req),
        (m: ExecResponse) => m,
        o.signal,
      );
    },
    portForward: () => podStubs[current]!.portForward(),
    execStream: () => podStubs[current]!.execStream(),
    currentServer: () => opts.servers[current]!,
    close() {
      for (const c of channels) c.close();
      for (const s of stubs) s.close();
      for (const s of podStubs) s.close();
    },
  };
}

function deleteOptions(o: DeleteOptions) {
  return {
    gracePeriodSeconds: o.gracePeriodSeconds,
    propagationPolicy: o.propagationPolicy ?? "",
    preconditions: o.preconditions,
    dryRun: o.dryRun ?? false,
  };
}

/**
 * One watch stream as an async iterable. Aborting the signal ends it normally; a broken stream
 * throws the ApiError (after pointing the client at the next apiserver when this one is gone), and
 * the caller resumes from the last resourceVersion it saw.
 */
async function* watchStream<T extends KubeObject>(
  currentIndex: () => number,
  stub: (i: number) => Stub,
  connect: (i: number) => Promise<void>,
  failover: (from: number) => void,
  req: WatchRequest,
  signal: AbortSignal | undefined,
): AsyncGenerator<WatchEvent<T>> {
  if (signal?.aborted) return;
  const index = currentIndex();
  try {
    await connect(index);
  } catch (err) {
    if (signal?.aborted) return;
    failover(index);
    throw err;
  }
  // Aborted while connecting: an aborted signal never fires "abort" again, so a stream opened now
  // would never be cancelled and its caller (an informer being stopped) would wait forever.
  if (signal?.aborted) return;
  const stream: ClientReadableStream<WatchResponse> = stub(index).watch(req);
  const onAbort = () => stream.cancel();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const msg of stream as AsyncIterable<WatchResponse>) {
      yield { type: msg.type as WatchEventType, object: unpack<T>(msg.object) };
    }
  } catch (err) {
    if (signal?.aborted) return;
    if (isRetriable(err)) failover(index);
    throw fromServiceError(err);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    stream.cancel();
  }
  if (!signal?.aborted) {
    // The server ended the stream (shutting down): the caller resumes, elsewhere if need be.
    failover(index);
    throw new ApiError(GrpcStatus.UNAVAILABLE, "ServiceUnavailable", "watch stream closed by the server");
  }
}

/** A server stream as an async iterable; abort ends it quietly, failures throw ApiError. */
async function* mapStream<M, T>(
  open: () => ClientReadableStream<M>,
  map: (m: M) => T,
  signal?: AbortSignal,
): AsyncGenerator<T> {
  if (signal?.aborted) return;
  const stream = open();
  const onAbort = () => stream.cancel();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const msg of stream as AsyncIterable<M>) yield map(msg);
  } catch (err) {
    if ((err as { code?: number }).code === GrpcStatus.CANCELLED && signal?.aborted) return;
    throw fromServiceError(err);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
