import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { KINDS } from "@tskube/api";
import protobuf from "protobufjs";
import descriptor from "protobufjs/ext/descriptor/index.js";
import { describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";

/**
 * The smallest valid object of each kind, as a client writes it by hand. A kind the apiserver
 * serves without an entry here fails the test, so each new kind brings one. Field names are the
 * proto's; protobufjs types built from descriptors keep a map as its repeated entries (the map's
 * wire form).
 */
const FIXTURES: Record<string, object> = {
  Namespace: {},
  Pod: { spec: { containers: [{ name: "app", image: "busybox" }] } },
  Node: {},
  Service: { spec: { ports: [{ port: 80 }] } },
  Endpoints: {},
  Event: { involved_object: { kind: "Pod", namespace: "default", name: "web" }, reason: "Started" },
  ConfigMap: { data: [{ key: "key", value: "value" }] },
  Secret: { string_data: [{ key: "key", value: "value" }] },
  ReplicaSet: {
    spec: {
      selector: { match_labels: [{ key: "app", value: "web" }] },
      template: {
        metadata: { labels: [{ key: "app", value: "web" }] },
        spec: { containers: [{ name: "app", image: "busybox" }] },
      },
    },
  },
  Deployment: {
    spec: {
      selector: { match_labels: [{ key: "app", value: "web" }] },
      template: {
        metadata: { labels: [{ key: "app", value: "web" }] },
        spec: { containers: [{ name: "app", image: "busybox" }] },
      },
    },
  },
  Lease: { spec: { holder_identity: "reflection-test" } },
  Experiment: { spec: { action: "PodKill" } },
};

/** grpc.reflection's own contract is the one thing a reflection client brings along. */
const reflectionProtos = join(
  dirname(createRequire(import.meta.url).resolve("@grpc/reflection/package.json")),
  "build/proto",
);

type Root = protobuf.Root;
const fromDescriptor = (protobuf.Root as unknown as { fromDescriptor(set: object): Root }).fromDescriptor;

/** A ServerReflectionInfo stream (v1 or v1alpha): one request, one response, per question. */
class ReflectionClient {
  private readonly request: protobuf.Type;
  private readonly response: protobuf.Type;
  private readonly path: string;

  constructor(
    private readonly client: grpc.Client,
    version: "v1" | "v1alpha",
  ) {
    const root = protobuf.loadSync(join(reflectionProtos, `grpc/reflection/${version}/reflection.proto`));
    const pkg = `grpc.reflection.${version}`;
    this.request = root.lookupType(`${pkg}.ServerReflectionRequest`);
    this.response = root.lookupType(`${pkg}.ServerReflectionResponse`);
    this.path = `/${pkg}.ServerReflection/ServerReflectionInfo`;
  }

  private ask(question: object): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const call = this.client.makeBidiStreamRequest(
        this.path,
        (m: object) => Buffer.from(this.request.encode(this.request.fromObject(m)).finish()),
        (b: Buffer) => this.response.toObject(this.response.decode(b), { defaults: true }),
      );
      call.on("data", (res: Record<string, unknown>) => {
        const err = res.errorResponse as { errorCode: number; errorMessage: string } | undefined;
        if (err) reject(new Error(`reflection error ${err.errorCode}: ${err.errorMessage}`));
        else resolve(res);
        call.end();
      });
      call.on("error", reject);
      call.write({ host: "", ...question });
    });
  }

  async listServices(): Promise<string[]> {
    const res = await this.ask({ listServices: "*" });
    return (res.listServicesResponse as { service: { name: string }[] }).service.map((s) => s.name).sort();
  }

  /** The file declaring symbol plus the files it imports, as FileDescriptorProto bytes. */
  async fileContainingSymbol(symbol: string): Promise<Uint8Array[]> {
    const res = await this.ask({ fileContainingSymbol: symbol });
    return (res.fileDescriptorResponse as { fileDescriptorProto: Uint8Array[] }).fileDescriptorProto;
  }
}

/** Unary calls whose messages are built from the descriptors the server handed out. */
function unary(client: grpc.Client, root: Root, service: string, method: string) {
  const m = root.lookupService(service).methods[method];
  if (!m) throw new Error(`${service} has no method ${method}`);
  const req = root.lookupType(m.requestType);
  const res = root.lookupType(m.responseType);
  return (body: object) =>
    new Promise<protobuf.Message & Record<string, unknown>>((resolve, reject) =>
      client.makeUnaryRequest(
        `/${service}/${method}`,
        (v: object) => Buffer.from(req.encode(req.fromObject(v)).finish()),
        (b: Buffer) => res.decode(b) as protobuf.Message & Record<string, unknown>,
        body,
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
        (err, value) => (err || !value ? reject(err) : resolve(value)),
      ),
    );
}

const TYPE_URL_PREFIX = "type.googleapis.com/";

/**
 * A client that knows only the apiserver's address: it learns the services and every message from
 * server reflection, asks Discovery which kinds there are, and writes and reads one object of each
 * with types built from the descriptors it fetched, no generated code.
 */
describe("server reflection", () => {
  const c = useCluster();

  it("lists the served services on v1 and v1alpha, health included", async () => {
    const client = new grpc.Client(c.servers[0]!, grpc.credentials.createInsecure());
    try {
      const want = ["grpc.health.v1.Health", "tskube.v1.PodService", "tskube.v1.ResourceService"];
      expect(await new ReflectionClient(client, "v1").listServices()).toEqual(want);
      expect(await new ReflectionClient(client, "v1alpha").listServices()).toEqual(want);
      await expect(
        new ReflectionClient(client, "v1").fileContainingSymbol("tskube.v1.NoSuchThing"),
      ).rejects.toThrow(/reflection error 5/);
    } finally {
      client.close();
    }
  });

  it("describes every kind, health and the verbs well enough to create and get each kind", async () => {
    const client = new grpc.Client(c.servers[0]!, grpc.credentials.createInsecure());
    try {
      const reflection = new ReflectionClient(client, "v1");
      const files = new Map<string, object>();
      const learn = async (symbol: string) => {
        for (const bytes of await reflection.fileContainingSymbol(symbol)) {
          const file = descriptor.FileDescriptorProto.decode(bytes) as unknown as { name: string };
          files.set(file.name, file);
        }
      };
      for (const service of await reflection.listServices()) await learn(service);
      let root = fromDescriptor({ file: [...files.values()] });

      const health = unary(client, root, "grpc.health.v1.Health", "Check");
      const servingEnum = root.lookupEnum("grpc.health.v1.HealthCheckResponse.ServingStatus");
      for (const service of ["", "tskube.v1.ResourceService", "tskube.v1.PodService"]) {
        expect((await health({ service })).status, service || "overall").toBe(servingEnum.values.SERVING);
      }

      const discovery = await unary(client, root, "tskube.v1.ResourceService", "Discovery")({});
      const resources = discovery.resources as {
        name: string;
        kind: string;
        group: string;
        version: string;
        namespaced: boolean;
        message_type: string;
      }[];
      // The kinds a client discovers are exactly the kinds the API declares.
      expect(resources.map((r) => r.name).sort()).toEqual(KINDS.map((k) => k.resource).sort());
      for (const r of resources) await learn(r.message_type);
      root = fromDescriptor({ file: [...files.values()] });

      const create = unary(client, root, "tskube.v1.ResourceService", "Create");
      const get = unary(client, root, "tskube.v1.ResourceService", "Get");
      const missing = resources.filter((r) => !FIXTURES[r.kind]).map((r) => r.kind);
      expect(missing, "kinds without a minimal object in FIXTURES").toEqual([]);
      for (const r of resources) {
        const type = root.lookupType(r.message_type);
        const namespace = r.namespaced ? "default" : "";
        const name = `reflected-${r.kind.toLowerCase()}`;
        const obj = type.fromObject({
          ...FIXTURES[r.kind],
          api_version: r.group ? `${r.group}/${r.version}` : r.version,
          kind: r.kind,
          metadata: { name, namespace },
        });
        const object = { type_url: TYPE_URL_PREFIX + r.message_type, value: type.encode(obj).finish() };
        const created = await create({ resource: r.name, namespace, object }).catch((err: Error) => {
          throw new Error(`create ${r.kind}: ${err.message}`);
        });
        const got = await get({ resource: r.name, namespace, name });
        for (const [verb, res] of [
          ["create", created],
          ["get", got],
        ] as const) {
          const any = res.object as { type_url: string; value: Uint8Array };
          expect(any.type_url, `${verb} ${r.kind}`).toBe(TYPE_URL_PREFIX + r.message_type);
          const back = type.toObject(type.decode(any.value)) as {
            kind: string;
            metadata: { name: string; namespace?: string; uid: string; resource_version: string };
          };
          expect(back.kind).toBe(r.kind);
          expect(back.metadata.name).toBe(name);
          expect(back.metadata.namespace ?? "").toBe(namespace);
          expect(back.metadata.uid, `${verb} ${r.kind} uid`).toMatch(/^[0-9a-f-]{36}$/);
          expect(Number(back.metadata.resource_version), `${verb} ${r.kind} resourceVersion`).toBeGreaterThan(
            0,
          );
        }
      }
    } finally {
      client.close();
    }
  });
});
