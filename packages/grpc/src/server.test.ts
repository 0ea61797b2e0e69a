import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { PodServiceService } from "@tskube/api";
import { componentLogger } from "@tskube/log";
import { service as healthService } from "grpc-health-check";
import { afterEach, describe, expect, it } from "vitest";
import { contractFiles, createServer, type GrpcService, serviceNameOf, type TskubeServer } from "./server.js";

const log = componentLogger("server-test");
const reflectionProto = join(
  dirname(createRequire(import.meta.url).resolve("@grpc/reflection/package.json")),
  "build/proto/grpc/reflection/v1/reflection.proto",
);
const ReflectionClient = (
  grpc.loadPackageDefinition(loadSync(reflectionProto, { keepCase: true, oneofs: true })) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
  }
).grpc.reflection.v1.ServerReflection;
const HealthClient = grpc.makeGenericClientConstructor(healthService, "Health");

interface ReflectionResponse {
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

function reflect(address: string, request: object): Promise<ReflectionResponse> {
  const client = new ReflectionClient(address, grpc.credentials.createInsecure());
  return new Promise<ReflectionResponse>((resolve, reject) => {
    const call = client.ServerReflectionInfo!() as grpc.ClientDuplexStream<object, ReflectionResponse>;
    call.on("data", (res) => {
      resolve(res);
      call.end();
    });
    call.on("error", reject);
    call.write({ host: "", ...request });
  }).finally(() => client.close());
}

function healthOf(address: string, service: string): Promise<string> {
  const client = new HealthClient(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    check(req: object, cb: (err: Error | null, res?: { status: string | number }) => void): void;
  };
  return new Promise<string>((resolve, reject) =>
    client.check({ service }, (err, res) => (err ? reject(err) : resolve(String(res?.status)))),
  ).finally(() => client.close());
}

/** PodService's methods, each refusing: these tests look at the server around them. */
const podService: GrpcService = {
  definition: PodServiceService,
  implementation: Object.fromEntries(
    Object.keys(PodServiceService).map((m) => [
      m,
      (_call: unknown, cb?: (e: Partial<grpc.ServiceError>) => void) =>
        cb?.({ code: grpc.status.UNIMPLEMENTED }),
    ]),
  ),
};

describe("createServer", () => {
  let srv: TskubeServer | undefined;
  afterEach(async () => {
    await srv?.shutdown(100);
    srv = undefined;
  });

  it("lists the services it serves and health, and describes every file of proto/", async () => {
    srv = await createServer({ address: "127.0.0.1:0", log }, [podService]);
    const address = `127.0.0.1:${srv.port}`;
    const list = await reflect(address, { list_services: "*" });
    expect(list.list_services_response?.service.map((s) => s.name).sort()).toEqual([
      "grpc.health.v1.Health",
      "tskube.v1.PodService",
    ]);
    // Kinds travel inside Any, so their messages are described though PodService names none.
    for (const symbol of [
      "tskube.v1.Experiment",
      "tskube.v1.Pod",
      "tskube.v1.Lease",
      "grpc.health.v1.Health",
    ]) {
      const res = await reflect(address, { file_containing_symbol: symbol });
      expect(res.error_response, symbol).toBeUndefined();
      expect(res.file_descriptor_response?.file_descriptor_proto.length, symbol).toBeGreaterThan(0);
    }
    expect(contractFiles()).toContain("tskube/v1/chaos.proto");
  });

  it("reports each service it serves through grpc.health.v1 until shutdown", async () => {
    srv = await createServer({ address: "127.0.0.1:0", log }, [podService]);
    const address = `127.0.0.1:${srv.port}`;
    expect(await healthOf(address, "")).toBe("SERVING");
    expect(await healthOf(address, "tskube.v1.PodService")).toBe("SERVING");
    await expect(healthOf(address, "tskube.v1.ResourceService")).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
    srv.health.setStatus("tskube.v1.PodService", "NOT_SERVING");
    expect(await healthOf(address, "tskube.v1.PodService")).toBe("NOT_SERVING");
  });

  it("refuses to start a service that proto/ does not declare, or declares otherwise", async () => {
    const method = (path: string) => ({
      path,
      requestStream: false,
      responseStream: false,
      requestSerialize: (v: Buffer) => v,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (v: Buffer) => v,
      responseDeserialize: (b: Buffer) => b,
    });
    await expect(
      createServer({ address: "127.0.0.1:0", log }, [
        { definition: { get: method("/tskube.v1.SecretService/Get") }, implementation: { get: () => {} } },
      ]),
    ).rejects.toThrow(/tskube.v1.SecretService is not declared by any proto file/);
    await expect(
      createServer({ address: "127.0.0.1:0", log }, [
        { definition: { logs: method("/tskube.v1.PodService/Logs") }, implementation: { logs: () => {} } },
      ]),
    ).rejects.toThrow(
      /tskube.v1.PodService: proto\/ declares .*PodService\/Exec.*, the server has \/tskube.v1.PodService\/Logs$/,
    );
  });

  it("names a service from its methods' paths", () => {
    expect(serviceNameOf(PodServiceService)).toBe("tskube.v1.PodService");
    expect(() => serviceNameOf({})).toThrow(/names 0 services/);
  });
});
