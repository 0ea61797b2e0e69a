import { type AddressInfo, createServer as createTcpServer } from "node:net";
import * as grpc from "@grpc/grpc-js";
import {
  type Any,
  CreateResponse,
  DeleteResponse,
  DiscoveryResponse,
  GetResponse,
  type KubeObject,
  kindForResource,
  ListResponse,
  objectKey,
  pack,
  ResourceServiceService,
  UpdateResponse,
  unpack,
  WatchResponse,
} from "@tskube/api";
import { toServiceError } from "@tskube/grpc";
import { silentLogger } from "@tskube/log";
import { ApiError, errors } from "@tskube/machinery";

type EventType = "ADDED" | "MODIFIED" | "DELETED";

/**
 * The state two fake apiservers share, as two real ones share etcd: objects per resource, one
 * revision counter, a history for watches (compact() drops it, so old revisions are "too old").
 */
export class FakeApiState {
  private objects = new Map<string, Map<string, KubeObject>>();
  private history: { rv: number; resource: string; type: EventType; obj: KubeObject }[] = [];
  private watchers = new Set<(resource: string, type: EventType, obj: KubeObject) => void>();
  rv = 0;
  compactedRv = 0;
  /** Requests seen per server, to tell which server answered. */
  calls: string[] = [];
  /**
   * Asked after each applied call: true makes that server die before answering (as a SIGKILL
   * between etcd's commit and the reply), so the client sees its connection reset.
   */
  dieBeforeAnswering?: (server: string, verb: string) => boolean;
  /** Kills a server by name (registered by startFakeApiServer). */
  readonly killers = new Map<string, () => void>();
  private generated = 0;

  private bucket(resource: string): Map<string, KubeObject> {
    const b = this.objects.get(resource) ?? new Map<string, KubeObject>();
    this.objects.set(resource, b);
    return b;
  }

  private gr(resource: string) {
    const k = kindForResource(resource)!;
    return { group: k.group, resource, kind: k.kind };
  }

  private record(resource: string, type: EventType, obj: KubeObject): KubeObject {
    this.rv++;
    const stored = structuredClone(obj);
    stored.metadata!.resourceVersion = String(this.rv);
    this.history.push({ rv: this.rv, resource, type, obj: stored });
    for (const w of this.watchers) w(resource, type, stored);
    return stored;
  }

  create(resource: string, namespace: string, obj: KubeObject): KubeObject {
    const meta = obj.metadata!;
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${(++this.generated).toString(36)}`;
    if (kindForResource(resource)!.namespaced) meta.namespace = namespace;
    const key = objectKey(obj);
    if (this.bucket(resource).has(key)) throw errors.alreadyExists(this.gr(resource), meta.name);
    const stored = this.record(resource, "ADDED", obj);
    this.bucket(resource).set(key, stored);
    return stored;
  }

  get(resource: string, namespace: string, name: string): KubeObject {
    const o = this.bucket(resource).get(namespace ? `${namespace}/${name}` : name);
    if (!o) throw errors.notFound(this.gr(resource), name);
    return o;
  }

  update(resource: string, obj: KubeObject): KubeObject {
    const key = objectKey(obj);
    const cur = this.bucket(resource).get(key);
    if (!cur) throw errors.notFound(this.gr(resource), obj.metadata!.name);
    const rv = obj.metadata!.resourceVersion;
    if (rv && rv !== cur.metadata!.resourceVersion)
      throw errors.conflict(
        this.gr(resource),
        obj.metadata!.name,
        "the object has been modified; please apply your changes to the latest version and try again",
      );
    const stored = this.record(resource, "MODIFIED", obj);
    this.bucket(resource).set(key, stored);
    return stored;
  }

  delete(resource: string, namespace: string, name: string): KubeObject {
    const cur = this.get(resource, namespace, name);
    this.bucket(resource).delete(objectKey(cur));
    return this.record(resource, "DELETED", cur);
  }

  list(resource: string, namespace: string): KubeObject[] {
    return [...this.bucket(resource).values()]
      .filter((o) => !namespace || o.metadata?.namespace === namespace)
      .sort((a, b) => objectKey(a).localeCompare(objectKey(b)));
  }

  compact(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  /** Replays history after `from` (or the current state as ADDED), then follows live changes. */
  watch(resource: string, from: number, send: (type: EventType, obj: KubeObject) => void): () => void {
    if (from > 0 && from < this.compactedRv)
      throw errors.resourceExpired(`too old resource version: ${from} (${this.compactedRv})`);
    if (from > 0) {
      for (const h of this.history) if (h.resource === resource && h.rv > from) send(h.type, h.obj);
    } else for (const o of this.list(resource, "")) send("ADDED", o);
    const w = (r: string, type: EventType, obj: KubeObject) => {
      if (r === resource) send(type, obj);
    };
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }
}

/** ApiErrors travel with the Status trailer as the apiserver sends them; others go out bare. */
const fail = (cb: grpc.sendUnaryData<never>, err: unknown) =>
  cb(err instanceof ApiError ? toServiceError(err, silentLogger) : (err as grpc.ServiceError), null);

function unary<Req, Res>(
  state: FakeApiState,
  name: string,
  verb: string,
  fn: (req: Req) => Res,
): grpc.handleUnaryCall<Req, Res> {
  return (call, cb) => {
    state.calls.push(`${name} ${verb}`);
    try {
      const res = fn(call.request);
      if (state.dieBeforeAnswering?.(name, verb)) {
        setImmediate(() => state.killers.get(name)?.());
        return;
      }
      cb(null, res);
    } catch (err) {
      fail(cb as grpc.sendUnaryData<never>, err);
    }
  };
}

export interface FakeApiServer {
  address: string;
  server: grpc.Server;
  /** Ends every call and stream at once, as a SIGKILLed apiserver would. */
  kill(): void;
}

/** One in-process apiserver speaking ResourceService over real gRPC, backed by the shared state. */
export async function startFakeApiServer(state: FakeApiState, name: string): Promise<FakeApiServer> {
  const server = new grpc.Server();
  const one = (o: KubeObject): Any => pack(o);
  const getOne = unary(state, name, "get", (r: { resource: string; namespace: string; name: string }) => {
    // A server-side failure without a Status trailer: clients fall back to the gRPC code.
    if (r.name === "bare-error")
      throw Object.assign(new Error("denied"), { code: grpc.status.PERMISSION_DENIED, details: "denied" });
    return GetResponse.fromPartial({ object: one(state.get(r.resource, r.namespace, r.name)) });
  });
  server.addService(ResourceServiceService, {
    create: unary(state, name, "create", (r: { resource: string; namespace: string; object?: Any }) =>
      CreateResponse.fromPartial({ object: one(state.create(r.resource, r.namespace, unpack(r.object))) }),
    ),
    get: (
      call: grpc.ServerUnaryCall<{ resource: string; namespace: string; name: string }, GetResponse>,
      cb: grpc.sendUnaryData<GetResponse>,
    ) => {
      // Never answers: for deadlines and cancellation.
      if (call.request.name === "hang") return;
      getOne(call, cb);
    },
    discovery: unary(state, name, "discovery", () =>
      DiscoveryResponse.fromPartial({
        resources: [{ name: "configmaps", kind: "ConfigMap", version: "v1" }],
      }),
    ),
    list: unary(
      state,
      name,
      "list",
      (r: { resource: string; namespace: string; limit: number; continue: string }) => {
        const all = state.list(r.resource, r.namespace);
        const start = r.continue ? Number(r.continue) : 0;
        const end = r.limit > 0 ? Math.min(start + r.limit, all.length) : all.length;
        return ListResponse.fromPartial({
          items: all.slice(start, end).map(one),
          resourceVersion: String(state.rv),
          continue: end < all.length ? String(end) : "",
        });
      },
    ),
    update: unary(state, name, "update", (r: { resource: string; object?: Any }) =>
      UpdateResponse.fromPartial({ object: one(state.update(r.resource, unpack(r.object))) }),
    ),
    updateStatus: unary(state, name, "updateStatus", () => {
      throw errors.methodNotSupported({ group: "", resource: "fake", kind: "Fake" }, "updateStatus");
    }),
    patch: unary(state, name, "patch", () => {
      throw errors.methodNotSupported({ group: "", resource: "fake", kind: "Fake" }, "patch");
    }),
    delete: unary(state, name, "delete", (r: { resource: string; namespace: string; name: string }) =>
      DeleteResponse.fromPartial({
        object: one(state.delete(r.resource, r.namespace, r.name)),
        deleted: true,
      }),
    ),
    deleteCollection: unary(state, name, "deleteCollection", () => {
      throw errors.methodNotSupported({ group: "", resource: "fake", kind: "Fake" }, "deletecollection");
    }),
    watch: (
      call: grpc.ServerWritableStream<{ resource: string; resourceVersion: string }, WatchResponse>,
    ) => {
      state.calls.push(`${name} watch`);
      try {
        const stop = state.watch(
          call.request.resource,
          Number(call.request.resourceVersion || 0),
          (type, obj) => call.write(WatchResponse.fromPartial({ type, object: one(obj) })),
        );
        call.on("cancelled", stop);
        call.on("close", stop);
      } catch (err) {
        call.emit(
          "error",
          Object.assign(new Error((err as Error).message), toServiceError(err, silentLogger)),
        );
      }
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  state.killers.set(name, () => server.forceShutdown());
  return { address: `127.0.0.1:${port}`, server, kill: () => server.forceShutdown() };
}

/** An address nothing listens on (connections are refused). */
export async function deadAddress(): Promise<string> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return `127.0.0.1:${port}`;
}
