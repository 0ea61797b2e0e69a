import { readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { loadSync, type PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import type { Logger } from "@tskube/log";
import { HealthImplementation, protoPath as healthProtoPath, type ServingStatusMap } from "grpc-health-check";

/**
 * Where proto/ sits: TSKUBE_PROTO_ROOT when set (the image bundles the code, so the source-relative
 * path no longer exists there), else the repository's proto/ relative to this file.
 */
export const PROTO_ROOT =
  process.env.TSKUBE_PROTO_ROOT || join(dirname(fileURLToPath(import.meta.url)), "../../../proto");

/** grpc.health.v1's own name, as the health protocol and reflection clients ask for it. */
export const HEALTH_SERVICE = "grpc.health.v1.Health";
const HEALTH_PROTO = "health/v1/health.proto";

export interface ServerOptions {
  /** "host:port"; port 0 picks a free port (read it back from `port`). */
  address: string;
  log: Logger;
  /** Keepalive pings so dead peers and half-open streams are noticed (grpc keepalive docs). */
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  maxMessageBytes?: number;
}

/** One service a component serves: its generated definition (from proto/) and the handlers. */
export interface GrpcService {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

export interface TskubeServer {
  server: grpc.Server;
  health: HealthImplementation;
  port: number;
  /** Marks every service NOT_SERVING, lets in-flight calls finish up to graceMs, then forces. */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * A gRPC server with the pieces every tskube process needs: grpc.health.v1, server reflection,
 * keepalive and graceful shutdown. Each of `services` is added to grpc-js, reported by health and
 * listed by reflection from that one entry, so no service is served without being described.
 *
 * Reflection describes every .proto file under proto/ (the contract: ResourceService carries the
 * kinds' messages inside google.protobuf.Any, so a client needs their files though no service
 * names them) plus grpc.health.v1; it lists the services this process serves. A service whose
 * proto file is not in proto/ fails the start rather than being served undescribed.
 * @grpc/reflection answers with the files proto-loader rebuilds, one per package
 * ("tskube_v1.proto", "google_protobuf.proto"), not proto/'s own file names: clients find every
 * symbol with file_containing_symbol, while file_by_filename("tskube/v1/chaos.proto") finds nothing.
 */
export async function createServer(
  opts: ServerOptions,
  services: readonly GrpcService[],
): Promise<TskubeServer> {
  const names = services.map((s) => serviceNameOf(s.definition));
  const contract = loadContract();
  for (const [i, name] of names.entries()) {
    if (!(name in contract))
      throw new Error(`gRPC service ${name} is not declared by any proto file under ${PROTO_ROOT}`);
    const described = methodPaths(contract[name] as grpc.ServiceDefinition);
    const served = methodPaths(services[i]!.definition);
    if (described !== served)
      throw new Error(`gRPC service ${name}: proto/ declares ${described}, the server has ${served}`);
  }
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
  for (const name of names) statuses[name] = "SERVING";
  const health = new HealthImplementation(statuses);
  health.addToServer(server);
  new ReflectionService(contract, { services: [...names, HEALTH_SERVICE] }).addToServer(server);
  for (const s of services) server.addService(s.definition, s.implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(opts.address, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  opts.log.info({ address: opts.address, port, services: names }, "gRPC server listening");
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

/** "tskube.v1.ResourceService" from its methods' paths ("/tskube.v1.ResourceService/Create"). */
export function serviceNameOf(definition: grpc.ServiceDefinition): string {
  const names = new Set(Object.values(definition).map((m) => m.path.split("/")[1] ?? ""));
  const [name] = names;
  if (names.size !== 1 || !name) throw new Error(`a service definition names ${names.size} services`);
  return name;
}

function methodPaths(definition: grpc.ServiceDefinition): string {
  return Object.values(definition)
    .map((m) => m.path)
    .sort()
    .join(" ");
}

/** The .proto files under dir, relative to it ("tskube/v1/api.proto"), in a stable order. */
export function contractFiles(dir = PROTO_ROOT): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith(".proto"))
    .map((f) => f.split("\\").join("/"))
    .sort();
}

let contractCache: PackageDefinition | undefined;

/** Every file of proto/ plus grpc.health.v1's, parsed once per process. */
function loadContract(): PackageDefinition {
  contractCache ??= loadSync([...contractFiles(), HEALTH_PROTO], {
    // Reflection hands out the descriptors built from this load: field names must stay the proto's.
    keepCase: true,
    includeDirs: [PROTO_ROOT, resolve(dirname(healthProtoPath), "../..")],
  });
  return contractCache;
}
