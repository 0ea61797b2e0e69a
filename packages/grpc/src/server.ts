import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import type { Logger } from "@tskube/log";
import { HealthImplementation, type ServingStatusMap } from "grpc-health-check";
import { LeanUnaryMethods } from "./lean-unary-server.js";

/**
 * Where proto/ sits: TSKUBE_PROTO_ROOT when set (the image bundles the code, so the source-relative
 * path no longer exists there), else the repository's proto/ relative to this file.
 */
export const PROTO_ROOT =
  process.env.TSKUBE_PROTO_ROOT || join(dirname(fileURLToPath(import.meta.url)), "../../../proto");

export interface ServerOptions {
  /** "host:port"; port 0 picks a free port (read it back from `port`). */
  address: string;
  log: Logger;
  /** Service names reported by grpc.health.v1 (besides the overall ""). */
  services?: readonly string[];
  /** Keepalive pings so dead peers and half-open streams are noticed (grpc keepalive docs). */
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  maxMessageBytes?: number;
}

/** Adds a service whose unary methods are served by LeanUnaryMethods, its streams by grpc-js. */
export interface LeanServices {
  addService(definition: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void;
}

export interface TskubeServer {
  server: grpc.Server;
  health: HealthImplementation;
  port: number;
  /** Marks every service NOT_SERVING, lets in-flight calls finish up to graceMs, then forces. */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * A gRPC server with the pieces every tskube process needs: grpc.health.v1, server reflection over
 * proto/tskube, keepalive and graceful shutdown. `register` adds the component's own services before
 * the server binds.
 */
export async function createServer(
  opts: ServerOptions,
  register: (server: grpc.Server, lean: LeanServices) => void,
): Promise<TskubeServer> {
  const server = new grpc.Server({
    "grpc.keepalive_time_ms": opts.keepaliveTimeMs ?? 20_000,
    "grpc.keepalive_timeout_ms": opts.keepaliveTimeoutMs ?? 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 5_000,
    "grpc.max_receive_message_length": opts.maxMessageBytes ?? 16 * 1024 * 1024,
    "grpc.max_send_message_length": opts.maxMessageBytes ?? 16 * 1024 * 1024,
    // No channelz service is exposed, so its per-call bookkeeping (counters, call tracing) is
    // pure cost on every request.
    "grpc.enable_channelz": 0,
  });
  const statuses: ServingStatusMap = { "": "SERVING" };
  for (const s of opts.services ?? []) statuses[s] = "SERVING";
  const health = new HealthImplementation(statuses);
  health.addToServer(server);
  const definitions = loadSync(
    [
      "tskube/v1/api.proto",
      "tskube/v1/core.proto",
      "tskube/v1/apps.proto",
      "tskube/v1/coordination.proto",
      "tskube/v1/pods.proto",
    ],
    { includeDirs: [PROTO_ROOT] },
  );
  new ReflectionService(definitions).addToServer(server);
  const leanUnary = new LeanUnaryMethods(opts.maxMessageBytes ?? 16 * 1024 * 1024);
  register(server, {
    addService(definition, implementation) {
      server.addService(definition, implementation);
      leanUnary.add(definition, implementation);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(opts.address, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  if (leanUnary.size > 0) leanUnary.install(server);
  opts.log.info({ address: opts.address, port }, "gRPC server listening");
  return {
    server,
    health,
    port,
    shutdown: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        for (const s of Object.keys(statuses)) health.setStatus(s, "NOT_SERVING");
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
