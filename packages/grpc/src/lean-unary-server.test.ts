import * as grpc from "@grpc/grpc-js";
import { silentLogger } from "@tskube/log";
import { afterEach, describe, expect, it } from "vitest";
import { encodeGrpcMessage, parseGrpcTimeout } from "./lean-unary-server.js";
import { createServer, type TskubeServer } from "./server.js";
import { UnaryCallError, UnaryChannel, type UnaryMethod } from "./unary-channel.js";

const bytes = {
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};
const SERVICE = {
  echo: { path: "/test.Lean/Echo", requestStream: false, responseStream: false, ...bytes },
  fail: { path: "/test.Lean/Fail", requestStream: false, responseStream: false, ...bytes },
  hang: { path: "/test.Lean/Hang", requestStream: false, responseStream: false, ...bytes },
  // A streaming method of the same service stays grpc-js's.
  repeat: { path: "/test.Lean/Repeat", requestStream: false, responseStream: true, ...bytes },
};
const echo: UnaryMethod<Buffer, Buffer> = SERVICE.echo;

/** What the handlers saw: the kind of call object each got. */
const seen: string[] = [];
const hanging: (() => void)[] = [];

async function start(maxMessageBytes?: number): Promise<{ server: TskubeServer; address: string }> {
  const server = await createServer(
    { address: "127.0.0.1:0", log: silentLogger, ...(maxMessageBytes ? { maxMessageBytes } : {}) },
    (_grpc, lean) =>
      lean.addService(SERVICE as unknown as grpc.ServiceDefinition, {
        echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
          seen.push(`${call.constructor.name} ${call.metadata.get("x-test")[0] ?? ""}`);
          cb(null, Buffer.concat([Buffer.from("echo:"), call.request]));
        },
        fail: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => {
          const metadata = new grpc.Metadata();
          metadata.set("detail-bin", Buffer.from([0, 1, 2, 255]));
          cb({ code: grpc.status.ABORTED, details: "the object has been modified; résumé 100%", metadata });
        },
        hang: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
          seen.push(`deadline ${typeof call.getDeadline()}`);
          hanging.push(() => cb(null, Buffer.alloc(0)));
        },
        repeat: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
          seen.push(`stream ${call.constructor.name}`);
          call.write(call.request);
          call.write(call.request);
          call.end();
        },
      }),
  );
  return { server, address: `127.0.0.1:${server.port}` };
}

const soon = (ms = 5_000) => ({ deadline: Date.now() + ms });

async function failure(p: Promise<unknown>): Promise<UnaryCallError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UnaryCallError);
  return err as UnaryCallError;
}

describe("lean unary methods beside grpc-js", () => {
  const cleanup: (() => void | Promise<void>)[] = [];
  afterEach(async () => {
    for (const h of hanging.splice(0)) h();
    for (const c of cleanup.splice(0)) await c();
    seen.length = 0;
  });

  async function running(maxMessageBytes?: number) {
    const s = await start(maxMessageBytes);
    cleanup.push(() => s.server.shutdown(100));
    const channel = new UnaryChannel(s.address);
    cleanup.push(() => channel.close());
    const Client = grpc.makeGenericClientConstructor(SERVICE as never, "Lean");
    const client = new Client(s.address, grpc.credentials.createInsecure()) as unknown as {
      echo(req: Buffer, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res?: Buffer) => void): void;
      fail(req: Buffer, cb: (err: grpc.ServiceError | null) => void): void;
      repeat(req: Buffer): grpc.ClientReadableStream<Buffer>;
      close(): void;
    };
    cleanup.push(() => client.close());
    return { ...s, channel, client };
  }

  it("serves unary calls itself, to the lean channel and to grpc-js clients alike", async () => {
    const { channel, client } = await running();
    expect((await channel.call(echo, Buffer.from("a"), soon())).toString()).toBe("echo:a");
    const md = new grpc.Metadata();
    md.set("x-test", "from-grpc-js");
    const viaGrpcJs = await new Promise<Buffer>((resolve, reject) =>
      client.echo(Buffer.from("b"), md, (err, res) => (err ? reject(err) : resolve(res!))),
    );
    expect(viaGrpcJs.toString()).toBe("echo:b");
    expect(seen).toEqual(["LeanCall ", "LeanCall from-grpc-js"]);
  });

  it("leaves streaming methods, health and the rest to grpc-js", async () => {
    const { client, address } = await running();
    const got: string[] = [];
    for await (const m of client.repeat(Buffer.from("r"))) got.push((m as Buffer).toString());
    expect(got).toEqual(["r", "r"]);
    expect(seen).toEqual(["stream ServerWritableStreamImpl"]);
    // grpc.health.v1 Check, registered with grpc-js by createServer.
    const health = new UnaryChannel(address);
    cleanup.push(() => health.close());
    const check: UnaryMethod<Buffer, Buffer> = { path: "/grpc.health.v1.Health/Check", ...bytes };
    const res = await health.call(check, Buffer.alloc(0), soon());
    // HealthCheckResponse{status: SERVING}: field 1, varint 1.
    expect([...res]).toEqual([0x08, 1]);
  });

  it("sends an error's status, message and metadata as grpc-js does", async () => {
    const { channel, client } = await running();
    const err = await failure(channel.call({ ...echo, path: SERVICE.fail.path }, Buffer.alloc(0), soon()));
    expect(err.code).toBe(grpc.status.ABORTED);
    expect(err.details).toBe("the object has been modified; résumé 100%");
    expect(err.metadata.get("detail-bin")).toEqual([Buffer.from([0, 1, 2, 255])]);
    const viaGrpcJs = await new Promise<grpc.ServiceError>((resolve) =>
      client.fail(Buffer.alloc(0), (e) => resolve(e!)),
    );
    expect(viaGrpcJs.code).toBe(grpc.status.ABORTED);
    expect(viaGrpcJs.details).toBe("the object has been modified; résumé 100%");
    expect(viaGrpcJs.metadata.get("detail-bin")).toEqual([Buffer.from([0, 1, 2, 255])]);
  });

  it("answers DEADLINE_EXCEEDED when the handler outlives the call's grpc-timeout", async () => {
    const { channel } = await running();
    // The client gives up at its own deadline too; the server's answer must not come after it.
    const err = await failure(channel.call({ ...echo, path: SERVICE.hang.path }, Buffer.alloc(0), soon(300)));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(seen).toEqual(["deadline object"]);
  });

  it("refuses a request over the size limit with RESOURCE_EXHAUSTED, and inflates a gzipped one", async () => {
    const { channel, address } = await running(1024);
    const err = await failure(channel.call(echo, Buffer.alloc(4096, 1), soon()));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const Client = grpc.makeGenericClientConstructor(SERVICE as never, "Lean");
    const gzip = new Client(address, grpc.credentials.createInsecure(), {
      "grpc.default_compression_algorithm": 2,
    }) as unknown as {
      echo(req: Buffer, cb: (err: grpc.ServiceError | null, res?: Buffer) => void): void;
      close(): void;
    };
    cleanup.push(() => gzip.close());
    const res = await new Promise<Buffer>((resolve, reject) =>
      gzip.echo(Buffer.from("zipped"), (e, r) => (e ? reject(e) : resolve(r!))),
    );
    expect(res.toString()).toBe("echo:zipped");
  });
});

describe("grpc-timeout and grpc-message", () => {
  it("reads every grpc-timeout unit and ignores malformed values", () => {
    expect(parseGrpcTimeout("250m")).toBe(250);
    expect(parseGrpcTimeout("5S")).toBe(5000);
    expect(parseGrpcTimeout("2M")).toBe(120_000);
    expect(parseGrpcTimeout("1H")).toBe(3_600_000);
    expect(parseGrpcTimeout("1500u")).toBeCloseTo(1.5);
    expect(parseGrpcTimeout("123456789m")).toBeUndefined();
    expect(parseGrpcTimeout("5s")).toBeUndefined();
    expect(parseGrpcTimeout(undefined)).toBeUndefined();
  });

  it("percent-encodes outside printable ASCII and '%' itself", () => {
    expect(encodeGrpcMessage("plain text: ok")).toBe("plain text: ok");
    expect(encodeGrpcMessage("100% résumé\n")).toBe("100%25 r%C3%A9sum%C3%A9%0A");
  });
});
