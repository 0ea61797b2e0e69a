import { status as GrpcStatus, type ServerWritableStream, type ServiceError } from "@grpc/grpc-js";
import {
  type Any,
  APIResource,
  apiVersionOf,
  BindResponse,
  CreateResponse,
  DeleteCollectionResponse,
  DeleteResponse,
  DiscoveryResponse,
  GetResponse,
  KINDS,
  type KindInfo,
  type KubeObject,
  ListResponse,
  PatchResponse,
  pack,
  type ResourceServiceServer,
  typeNameOf,
  UpdateResponse,
  UpdateStatusResponse,
  unpack,
  WatchResponse,
} from "@tskube/api";
import { toServiceError } from "@tskube/grpc";
import type { Logger } from "@tskube/log";
import { ApiError, errors } from "@tskube/machinery";
import type { Metrics } from "./metrics.js";
import { bindPod } from "./pod-binding.js";
import type { PatchKind, Registry } from "./registry.js";
import { TooOldError, type WatchSink } from "./storage/cacher.js";
import { watchFromEtcd } from "./storage/direct-watch.js";
import type { EtcdKv } from "./storage/etcd-kv.js";
import type { EtcdStore } from "./storage/etcd-store.js";
import { packStored } from "./storage/keys.js";

export interface ServiceDeps {
  registries: Map<string, Registry>;
  /** etcd's KV and Watch calls (watches older than the cache are served straight from etcd). */
  etcd: EtcdKv;
  store: EtcdStore;
  log: Logger;
  metrics: Metrics;
  bookmarkIntervalMs: number;
  maxObjectBytes: number;
  /** Resolves once every watch cache is ready; watches wait for it. */
  ready: () => boolean;
}

const PATCH_TYPES: Record<string, PatchKind> = {
  "application/merge-patch+json": "merge",
  "application/json-patch+json": "json",
  "application/strategic-merge-patch+json": "strategic",
  merge: "merge",
  json: "json",
  strategic: "strategic",
};

/** The ResourceService implementation: argument checks, then the kind's registry. */
export function createResourceService(deps: ServiceDeps): ResourceServiceServer {
  const { registries, log, metrics } = deps;

  function registryFor(resource: string): Registry {
    const r = registries.get(resource);
    if (!r)
      throw new ApiError(
        GrpcStatus.NOT_FOUND,
        "NotFound",
        `the server doesn't have a resource type "${resource}"`,
      );
    return r;
  }

  function objectFrom(kind: KindInfo, any: Any | undefined): KubeObject {
    if (!any) throw errors.badRequest("object is required");
    if (any.value.length > deps.maxObjectBytes) {
      throw errors.tooLarge(`Request entity too large: limit is ${deps.maxObjectBytes} bytes`);
    }
    if (typeNameOf(any) !== kind.messageType.$type) {
      throw errors.badRequest(
        `the object is a ${typeNameOf(any) || "nothing"}, resource ${kind.resource} needs ${kind.messageType.$type}`,
      );
    }
    try {
      return unpack(any);
    } catch (err) {
      throw errors.badRequest(
        `the object could not be decoded as ${kind.messageType.$type}: ${(err as Error).message}`,
      );
    }
  }

  /** Wraps a unary handler with metrics, logging and error mapping. */
  function unary<Req extends object, Res>(verb: string, fn: (req: Req) => Promise<Res>) {
    return (call: { request: Req }, callback: (err: Partial<ServiceError> | null, res?: Res) => void) => {
      const resource = (call.request as { resource?: string }).resource ?? "";
      const end = metrics.latency.startTimer({ verb, resource });
      fn(call.request).then(
        (res) => {
          end();
          metrics.requests.inc({ verb, resource, code: "OK" });
          callback(null, res);
        },
        (err: unknown) => {
          end();
          const e = toServiceError(err, log);
          metrics.requests.inc({
            verb,
            resource,
            code: GrpcStatus[e.code ?? GrpcStatus.UNKNOWN] ?? "UNKNOWN",
          });
          callback(e);
        },
      );
    };
  }

  function namespaceFor(kind: KindInfo, requested: string): string {
    return kind.namespaced ? requested : "";
  }

  return {
    create: unary("create", async (req) => {
      const reg = registryFor(req.resource);
      const obj = objectFrom(reg.kind, req.object);
      const { object, value } = await reg.createStored(obj, {
        namespace: namespaceFor(reg.kind, req.namespace),
        dryRun: req.dryRun,
      });
      return {
        $type: CreateResponse.$type,
        object: value ? packStored(reg.kind, value, Number(object.metadata!.resourceVersion)) : pack(object),
      };
    }),
    get: unary("get", async (req) => {
      const reg = registryFor(req.resource);
      return {
        $type: GetResponse.$type,
        object: pack(await reg.get(namespaceFor(reg.kind, req.namespace), req.name)),
      };
    }),
    list: unary("list", async (req) => {
      const reg = registryFor(req.resource);
      const res = await reg.list({
        namespace: namespaceFor(reg.kind, req.namespace),
        labelSelector: req.labelSelector,
        fieldSelector: req.fieldSelector,
        limit: req.limit,
        continue: req.continue,
        resourceVersion: req.resourceVersion,
      });
      return ListResponse.fromPartial({
        items: res.items.map(pack),
        resourceVersion: res.resourceVersion,
        continue: res.continue,
        remainingItemCount: res.remainingItemCount,
      });
    }),
    update: unary("update", async (req) => {
      const reg = registryFor(req.resource);
      const obj = objectFrom(reg.kind, req.object);
      const updated = await reg.update(obj, {
        namespace: namespaceFor(reg.kind, req.namespace),
        dryRun: req.dryRun,
      });
      return { $type: UpdateResponse.$type, object: pack(updated) };
    }),
    updateStatus: unary("update_status", async (req) => {
      const reg = registryFor(req.resource);
      const obj = objectFrom(reg.kind, req.object);
      const updated = await reg.updateStatus(obj, { namespace: namespaceFor(reg.kind, req.namespace) });
      return { $type: UpdateStatusResponse.$type, object: pack(updated) };
    }),
    patch: unary("patch", async (req) => {
      const reg = registryFor(req.resource);
      const kind = PATCH_TYPES[req.patchType || "merge"];
      if (!kind) throw errors.badRequest(`unsupported patch type ${JSON.stringify(req.patchType)}`);
      const obj = await reg.patch(namespaceFor(reg.kind, req.namespace), req.name, kind, req.patch, {
        status: req.status,
        dryRun: req.dryRun,
      });
      return { $type: PatchResponse.$type, object: pack(obj) };
    }),
    delete: unary("delete", async (req) => {
      const reg = registryFor(req.resource);
      const o = req.options;
      const policy = o?.propagationPolicy ?? "";
      if (policy && !["Orphan", "Background", "Foreground"].includes(policy)) {
        throw errors.badRequest(
          `propagationPolicy: Unsupported value: "${policy}": supported values: "Orphan", "Background", "Foreground"`,
        );
      }
      if (o?.gracePeriodSeconds !== undefined && o.gracePeriodSeconds < 0) {
        throw errors.badRequest("gracePeriodSeconds: Invalid value: must be greater than or equal to 0");
      }
      const res = await reg.delete(namespaceFor(reg.kind, req.namespace), req.name, {
        gracePeriodSeconds: o?.gracePeriodSeconds,
        propagationPolicy: policy,
        preconditions: o?.preconditions,
        dryRun: o?.dryRun ?? false,
      });
      return { $type: DeleteResponse.$type, object: pack(res.object), deleted: res.deleted };
    }),
    bind: unary("bind", async (req) => ({
      $type: BindResponse.$type,
      object: pack(
        await bindPod(registryFor("pods"), {
          namespace: req.namespace,
          name: req.name,
          uid: req.uid,
          targetNode: req.targetNode,
        }),
      ),
    })),
    deleteCollection: unary("deletecollection", async (req) => {
      const reg = registryFor(req.resource);
      const o = req.options;
      const items = await reg.deleteCollection(
        {
          namespace: namespaceFor(reg.kind, req.namespace),
          labelSelector: req.labelSelector,
          fieldSelector: req.fieldSelector,
          limit: 0,
          continue: "",
          resourceVersion: "",
        },
        {
          gracePeriodSeconds: o?.gracePeriodSeconds,
          propagationPolicy: o?.propagationPolicy ?? "",
          dryRun: o?.dryRun ?? false,
        },
      );
      return DeleteCollectionResponse.fromPartial({ items: items.map(pack) });
    }),
    watch: (call: ServerWritableStream<import("@tskube/api").WatchRequest, WatchResponse>) => {
      void serveWatch(call).catch((err) => {
        const e = toServiceError(err, log);
        metrics.requests.inc({
          verb: "watch",
          resource: call.request.resource,
          code: GrpcStatus[e.code ?? 2] ?? "UNKNOWN",
        });
        call.emit("error", Object.assign(new Error(e.details), e));
      });
    },
    discovery: unary("discovery", async () =>
      DiscoveryResponse.fromPartial({
        resources: KINDS.map((k) =>
          APIResource.fromPartial({
            name: k.resource,
            singularName: k.singular,
            namespaced: k.namespaced,
            group: k.group,
            version: k.version,
            kind: k.kind,
            verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            shortNames: [...k.shortNames],
            messageType: k.messageType.$type,
          }),
        ),
      }),
    ),
  };

  async function serveWatch(
    call: ServerWritableStream<import("@tskube/api").WatchRequest, WatchResponse>,
  ): Promise<void> {
    const req = call.request;
    const reg = registryFor(req.resource);
    const namespace = namespaceFor(reg.kind, req.namespace);
    const sel = reg.selection(req.labelSelector, req.fieldSelector);
    const fromRv = req.resourceVersion === "" ? 0 : Number(req.resourceVersion);
    if (!Number.isSafeInteger(fromRv) || fromRv < 0) {
      throw errors.badRequest(`invalid resourceVersion: ${JSON.stringify(req.resourceVersion)}`);
    }
    await reg.cacher.waitReady();
    let closed = false;
    let stop: (() => void) | undefined;
    let bookmarkTimer: NodeJS.Timeout | undefined;
    const finish = (err?: Error) => {
      if (closed) return;
      closed = true;
      if (bookmarkTimer) clearInterval(bookmarkTimer);
      stop?.();
      metrics.watchers.dec({ resource: reg.kind.resource });
      if (err) {
        const e = toServiceError(err, log);
        call.emit("error", Object.assign(new Error(e.details), e));
      } else call.end();
    };
    let lastRv = fromRv;
    let direct = false;
    const sink: WatchSink = {
      send(type, packed, rv) {
        if (closed) return;
        lastRv = Math.max(lastRv, rv);
        call.write({ $type: WatchResponse.$type, type, object: packed });
      },
      close: finish,
    };
    metrics.watchers.inc({ resource: reg.kind.resource });
    call.on("cancelled", () => finish());
    call.on("error", () => finish());
    const filter = { namespace, matches: (o: KubeObject) => sel.matches(o), everything: sel.everything };
    try {
      stop = reg.cacher.watch(fromRv, filter, sink);
    } catch (err) {
      if (!(err instanceof TooOldError)) throw err;
      // Older than the cache's ring: etcd may still hold the history (e.g. after a restart).
      direct = true;
      stop = await watchFromEtcd(deps.etcd, deps.store, reg.kind, fromRv, filter, sink);
    }
    if (closed) {
      stop();
      return;
    }
    if (req.allowWatchBookmarks) {
      // A cache-fed watcher has seen every event up to the cache's revision, so the bookmark may
      // carry it; a watcher fed straight from etcd can only vouch for what it has sent.
      bookmarkTimer = setInterval(() => {
        const rv = direct ? lastRv : Math.max(reg.cacher.currentRv, lastRv);
        sink.send("BOOKMARK", bookmarkAny(reg.kind, rv), rv);
      }, deps.bookmarkIntervalMs);
      bookmarkTimer.unref();
    }
  }
}

function bookmarkAny(kind: KindInfo, rv: number): Any {
  return pack(
    kind.messageType.fromPartial({
      apiVersion: apiVersionOf(kind),
      kind: kind.kind,
      metadata: { resourceVersion: String(rv) },
    }),
  );
}
