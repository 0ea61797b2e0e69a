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
  CreateResponse,
  DeleteCollectionRequest,
  type DeleteCollectionResponse,
  DeleteRequest,
  DeleteResponse,
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
  UpdateResponse,
  UpdateStatusRequest,
  UpdateStatusResponse,
  unpack,
  WatchRequest,
  type WatchResponse,
} from "@tskube/api";
// The channel alone: the package index also loads the server side (express, reflection).
import { UnaryChannel, type UnaryMethod } from "@tskube/grpc/unary-channel";
import { ApiError } from "@tskube/machinery";
import { waitForConnection } from "./connect.js";
import { fromServiceError, isRetriable } from "./errors.js";
import { FailoverCaller } from "./failover-caller.js";
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
import {
  type CallPolicy,
  describeCollectionWrite,
  describeCreate,
  describeWrite,
  type JudgeContext,
  judgeNamedCreate,
  judgePreconditionedDelete,
  judgePreconditionedUpdate,
  readOrAbsent,
  type WritePolicy,
} from "./write-outcome.js";

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
 *
 * What is sent again after a failure: a read (get, list, discovery; watches resume from their
 * resourceVersion) always; a write only when the apiserver provably never processed it (see
 * neverProcessed), or when reading the object can settle what became of it (a named create, an
 * update or delete with a precondition: write-outcome.ts). Any other write whose answer was lost
 * fails with AmbiguousWriteError, never a silent second attempt.
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
  const caller = new FailoverCaller(channels, { retries: opts.retries ?? 5, timeoutMs });
  const failover = (from: number) => caller.failover(from);
  const connect = (index: number) =>
    waitForConnection(stubs[index]!.getChannel(), opts.servers[index]!, connectTimeoutMs);

  const unary = <Req, Res>(
    method: UnaryMethod<Req, Res>,
    req: Req,
    policy: CallPolicy<Res>,
    signal?: AbortSignal,
  ): Promise<Res> => caller.call(method, req, policy, signal);

  function resourceClient<T extends KubeObject>(kind: KindInfo<T>): ResourceClient<T> {
    const resource = kind.resource;
    const ns = (namespace: string | undefined) => (kind.namespaced ? (namespace ?? "") : "");
    const objNs = (obj: T) => (kind.namespaced ? obj.metadata?.namespace || "default" : "");
    const withTypeTag = (obj: T): T => (obj.$type ? obj : ({ ...obj, $type: kind.messageType.$type } as T));
    const one = (any: Any | undefined) => unpack<T>(any);
    const details = (name: string) => ({ kind: resource, name, group: kind.group });
    const judging = (namespace: string, name: string): JudgeContext<T> => ({
      kind,
      decode: (any) => unpack<T>(any),
      read: () =>
        readOrAbsent(
          async () =>
            (
              await unary<GetRequest, GetResponse>(
                ResourceServiceService.get,
                GetRequest.fromPartial({ resource, namespace, name }),
                "idempotent",
              )
            ).object,
        ),
    });
    /** A write to one named object; a dry run changes nothing, so it is sent again like a read. */
    const write = <Res>(
      verb: string,
      namespace: string,
      name: string,
      dryRun: boolean | undefined,
      judge?: (ctx: JudgeContext<T>) => WritePolicy<Res>["judge"],
    ): CallPolicy<Res> => {
      if (dryRun) return "idempotent";
      const policy: WritePolicy<Res> = {
        what: describeWrite(verb, kind, name, namespace),
        details: details(name),
      };
      const j = judge?.(judging(namespace, name));
      if (j) policy.judge = j;
      return policy;
    };

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
        "idempotent",
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
        const namespace = objNs(obj);
        const req = CreateRequest.fromPartial({
          resource,
          namespace,
          object: pack(withTypeTag(obj)),
          dryRun: w.dryRun ?? false,
          fieldManager: w.fieldManager ?? opts.userAgent ?? "",
        });
        const name = obj.metadata?.name ?? "";
        let policy: CallPolicy<CreateResponse> = "idempotent";
        if (!w.dryRun) {
          policy = {
            what: describeCreate(kind, obj, namespace),
            details: details(name || (obj.metadata?.generateName ?? "")),
          };
          // What the server decodes, so the comparison sees what was sent as the server saw it.
          if (name) policy.judge = judgeNamedCreate(judging(namespace, name), one(req.object), wrapCreate);
        }
        const res = await unary<CreateRequest, CreateResponse>(ResourceServiceService.create, req, policy);
        return one(res.object);
      },
      async get(name, o = {}) {
        const res = await unary<GetRequest, GetResponse>(
          ResourceServiceService.get,
          GetRequest.fromPartial({ resource, namespace: ns(o.namespace), name }),
          "idempotent",
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
        const namespace = objNs(obj);
        const req = UpdateRequest.fromPartial({
          resource,
          namespace,
          object: pack(withTypeTag(obj)),
          dryRun: w.dryRun ?? false,
          fieldManager: w.fieldManager ?? opts.userAgent ?? "",
        });
        const policy = write<UpdateResponse>(
          "update",
          namespace,
          obj.metadata?.name ?? "",
          w.dryRun,
          (ctx) =>
            obj.metadata?.resourceVersion
              ? judgePreconditionedUpdate(ctx, one(req.object), "object", wrapUpdate)
              : undefined,
        );
        const res = await unary<UpdateRequest, UpdateResponse>(ResourceServiceService.update, req, policy);
        return one(res.object);
      },
      async updateStatus(obj: T) {
        const namespace = objNs(obj);
        const req = UpdateStatusRequest.fromPartial({
          resource,
          namespace,
          object: pack(withTypeTag(obj)),
        });
        const policy = write<UpdateStatusResponse>(
          "update status of",
          namespace,
          obj.metadata?.name ?? "",
          false,
          (ctx) =>
            obj.metadata?.resourceVersion
              ? judgePreconditionedUpdate(ctx, one(req.object), "status", wrapUpdateStatus)
              : undefined,
        );
        const res = await unary<UpdateStatusRequest, UpdateStatusResponse>(
          ResourceServiceService.updateStatus,
          req,
          policy,
        );
        return one(res.object);
      },
      async patch(name, patch, o: PatchOptions = {}) {
        const type = o.type ?? "merge";
        const namespace = ns(o.namespace ?? (kind.namespaced ? "default" : ""));
        const res = await unary<PatchRequest, PatchResponse>(
          ResourceServiceService.patch,
          PatchRequest.fromPartial({
            resource,
            namespace,
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
          // A patch carries no precondition the client can see, and some patches (a JSON patch
          // appending to a list) apply differently twice.
          write(o.status ? "patch status of" : "patch", namespace, name, o.dryRun),
        );
        return one(res.object);
      },
      async delete(name, o: DeleteOptions = {}) {
        const namespace = ns(o.namespace ?? (kind.namespaced ? "default" : ""));
        const { uid, resourceVersion } = o.preconditions ?? {};
        const res = await unary<DeleteRequest, DeleteResponse>(
          ResourceServiceService.delete,
          DeleteRequest.fromPartial({ resource, namespace, name, options: deleteOptions(o) }),
          // Without a precondition a second attempt could delete an object created under the same
          // name in between (a StatefulSet's replacement pod).
          write("delete", namespace, name, o.dryRun, (ctx) =>
            uid || resourceVersion ? judgePreconditionedDelete(ctx, uid, wrapDelete) : undefined,
          ),
        );
        return { object: one(res.object), deleted: res.deleted };
      },
      async deleteCollection(o: ListOptions & DeleteOptions = {}) {
        const namespace = ns(o.namespace);
        const res = await unary<DeleteCollectionRequest, DeleteCollectionResponse>(
          ResourceServiceService.deleteCollection,
          DeleteCollectionRequest.fromPartial({
            resource,
            namespace,
            labelSelector: o.labelSelector ?? "",
            fieldSelector: o.fieldSelector ?? "",
            options: deleteOptions(o),
          }),
          o.dryRun
            ? "idempotent"
            : {
                what: describeCollectionWrite("delete", kind, namespace),
                details: { kind: resource, name: "", group: kind.group },
              },
        );
        return res.items.map(one);
      },
      watch(o: WatchOptions = {}) {
        return watchStream<T>(
          () => caller.current,
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
        // Binding is a create of pods/binding: a second attempt after a lost first one is refused
        // as already assigned, which the scheduler would read as someone else's bind.
        {
          what: `bind pods "${o.name}" in namespace "${o.namespace}" to node "${o.node}"`,
          details: { kind: "pods", name: o.name, group: "" },
        },
      );
      return unpack(res.object);
    },
    async discovery() {
      const res = await unary<DiscoveryRequest, DiscoveryResponse>(
        ResourceServiceService.discovery,
        DiscoveryRequest.fromPartial({}),
        "idempotent",
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
        () => podStubs[caller.current]!.logs(req),
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
        () => podStubs[caller.current]!.exec(req),
        (m: ExecResponse) => m,
        o.signal,
      );
    },
    portForward: () => podStubs[caller.current]!.portForward(),
    execStream: () => podStubs[caller.current]!.execStream(),
    currentServer: () => opts.servers[caller.current]!,
    close() {
      for (const c of channels) c.close();
      for (const s of stubs) s.close();
      for (const s of podStubs) s.close();
    },
  };
}

// What a judge answers for a write it found applied: the object as it is now.
const wrapCreate = (object: Any) => CreateResponse.fromPartial({ object });
const wrapUpdate = (object: Any) => UpdateResponse.fromPartial({ object });
const wrapUpdateStatus = (object: Any) => UpdateStatusResponse.fromPartial({ object });
const wrapDelete = (object: Any) => DeleteResponse.fromPartial({ object, deleted: false });

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
