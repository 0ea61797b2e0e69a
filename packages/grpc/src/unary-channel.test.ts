import * as http2 from "node:http2";
import { type AddressInfo, createServer as createTcpServer, type Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import {
  GrpcMessageReader,
  grpcFrame,
  UnaryCallError,
  UnaryChannel,
  type UnaryMethod,
} from "./unary-channel.js";

const passthrough = {
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
  requestStream: false,
  responseStream: false,
};
const SERVICE = {
  echo: { path: "/test.Test/Echo", ...passthrough },
  fail: { path: "/test.Test/Fail", ...passthrough },
  hang: { path: "/test.Test/Hang", ...passthrough },
};
const echo: UnaryMethod<Buffer, Buffer> = SERVICE.echo;

interface Running {
  server: grpc.Server;
  address: string;
  port: number;
}

const pending: (() => void)[] = [];

async function startServer(port = 0): Promise<Running> {
  const server = new grpc.Server();
  server.addService(SERVICE as unknown as grpc.ServiceDefinition, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      cb(null, call.request),
    fail: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => {
      const metadata = new grpc.Metadata();
      metadata.set("detail-bin", Buffer.from([0, 1, 2, 255]));
      metadata.set("reason", "Conflict");
      cb({ code: grpc.status.ABORTED, details: "the object has been modified; résumé 100%", metadata });
    },
    // Never answers until the test ends.
    hang: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => pending.push(() => cb(null, Buffer.alloc(0))),
  });
  const bound = await new Promise<number>((res, rej) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? rej(err) : res(p),
    ),
  );
  return { server, address: `127.0.0.1:${bound}`, port: bound };
}

const soon = (ms = 5_000) => ({ deadline: Date.now() + ms });

const failure = async (p: Promise<unknown>): Promise<UnaryCallError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UnaryCallError);
  return err as UnaryCallError;
};

const cleanup: (() => void)[] = [];

/** A channel to a plain TCP listener that treats each connection with `onConnection`, never HTTP/2. */
async function channelToRawListener(onConnection: (s: Socket) => void, connectTimeoutMs: number) {
  const listener = createTcpServer(onConnection);
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
  const ch = new UnaryChannel(`127.0.0.1:${(listener.address() as AddressInfo).port}`, { connectTimeoutMs });
  cleanup.push(
    () => ch.close(),
    () => listener.close(),
  );
  return ch;
}
afterEach(() => {
  for (const done of pending.splice(0)) done();
  for (const fn of cleanup.splice(0)) fn();
});

describe("UnaryChannel against a grpc-js server", () => {
  it("round-trips messages, small, empty and large, many at once on one connection", async () => {
    const { server, address } = await startServer();
    const ch = new UnaryChannel(address);
    cleanup.push(
      () => ch.close(),
      () => server.forceShutdown(),
    );
    expect(await ch.call(echo, Buffer.from("hello"), soon())).toEqual(Buffer.from("hello"));
    expect(await ch.call(echo, Buffer.alloc(0), soon())).toEqual(Buffer.alloc(0));
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    expect((await ch.call(echo, big, soon())).equals(big)).toBe(true);
    const many = await Promise.all(
      Array.from({ length: 200 }, (_, i) => ch.call(echo, Buffer.from(String(i)), soon())),
    );
    expect(many.map((b) => b.toString())).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
  });

  it("reports the server's status, its decoded message and its trailers, -bin ones as bytes", async () => {
    const { server, address } = await startServer();
    const ch = new UnaryChannel(address);
    cleanup.push(
      () => ch.close(),
      () => server.forceShutdown(),
    );
    const err = await failure(ch.call(SERVICE.fail, Buffer.from("x"), soon()));
    expect(err.code).toBe(grpc.status.ABORTED);
    expect(err.details).toBe("the object has been modified; résumé 100%");
    expect(err.metadata.get("detail-bin")[0]).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(err.metadata.get("reason")).toEqual(["Conflict"]);
    expect(err.notSent).toBe(false);
    const unknown = await failure(ch.call({ ...echo, path: "/test.Test/Nope" }, Buffer.from("x"), soon()));
    expect(unknown.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it("fails at the deadline and when the signal aborts, and the connection keeps serving", async () => {
    const { server, address } = await startServer();
    const ch = new UnaryChannel(address);
    cleanup.push(
      () => ch.close(),
      () => server.forceShutdown(),
    );
    const late = await failure(ch.call(SERVICE.hang, Buffer.from("x"), soon(200)));
    expect(late.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const ac = new AbortController();
    const call = ch.call(SERVICE.hang, Buffer.from("x"), { ...soon(), signal: ac.signal });
    ac.abort();
    expect((await failure(call)).code).toBe(grpc.status.CANCELLED);
    expect(await ch.call(echo, Buffer.from("still"), soon())).toEqual(Buffer.from("still"));
  });

  it("refuses messages above maxReceiveBytes", async () => {
    const { server, address } = await startServer();
    const ch = new UnaryChannel(address, { maxReceiveBytes: 1024 });
    cleanup.push(
      () => ch.close(),
      () => server.forceShutdown(),
    );
    const err = await failure(ch.call(echo, Buffer.alloc(4096), soon()));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it("a refused address is UNAVAILABLE and marked not sent", async () => {
    const probe = createTcpServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const ch = new UnaryChannel(`127.0.0.1:${port}`);
    cleanup.push(() => ch.close());
    const err = await failure(ch.call(echo, Buffer.from("x"), soon()));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.notSent).toBe(true);
  });

  it("gives up on a listener that never speaks HTTP/2 after connectTimeoutMs, not the deadline", async () => {
    const ch = await channelToRawListener(() => {}, 200);
    const started = Date.now();
    const err = await failure(ch.call(echo, Buffer.from("x"), soon(20_000)));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.notSent).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("a listener that accepts and closes at once (docker's proxy, container gone) is UNAVAILABLE, not a hang", async () => {
    const ch = await channelToRawListener((socket) => socket.end(), 60_000);
    const err = await failure(ch.call(echo, Buffer.from("x"), soon(60_000)));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.notSent).toBe(true);
  });

  it("a server killed under a call fails it as UNAVAILABLE (maybe sent); a restarted one is dialled again", async () => {
    const first = await startServer();
    // Pings every few ms, so a keepalive also fires around the server's death.
    const ch = new UnaryChannel(first.address, { keepaliveMs: 5, keepaliveTimeoutMs: 1_000 });
    cleanup.push(() => ch.close());
    expect(await ch.call(echo, Buffer.from("a"), soon())).toEqual(Buffer.from("a"));
    const call = ch.call(SERVICE.hang, Buffer.from("x"), soon());
    await new Promise((r) => setTimeout(r, 50));
    first.server.forceShutdown();
    const err = await failure(call);
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.notSent).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    const second = await startServer(first.port);
    cleanup.push(() => second.server.forceShutdown());
    expect(await ch.call(echo, Buffer.from("b"), soon())).toEqual(Buffer.from("b"));
  });

  it("a closed channel refuses calls", async () => {
    const { server, address } = await startServer();
    const ch = new UnaryChannel(address);
    cleanup.push(() => server.forceShutdown());
    ch.close();
    const err = await failure(ch.call(echo, Buffer.from("x"), soon()));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
  });
});

/** A bare HTTP/2 server whose streams `onStream` handles (streams seen so far in arrival order). */
async function channelToHttp2Server(
  onStream: (stream: http2.ServerHttp2Stream, seen: http2.ServerHttp2Stream[]) => void,
): Promise<UnaryChannel> {
  const server = http2.createServer();
  const seen: http2.ServerHttp2Stream[] = [];
  server.on("stream", (stream) => {
    stream.on("error", () => {});
    seen.push(stream);
    onStream(stream, seen);
  });
  server.on("session", (session) => session.on("error", () => {}));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const ch = new UnaryChannel(`127.0.0.1:${(server.address() as AddressInfo).port}`);
  cleanup.push(
    () => ch.close(),
    () => server.close(),
  );
  return ch;
}

describe("UnaryChannel: which failures prove the server never processed the call", () => {
  it("a stream the server refuses (REFUSED_STREAM) is UNAVAILABLE and marked not sent", async () => {
    const ch = await channelToHttp2Server((stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM));
    const err = await failure(ch.call(echo, Buffer.from("x"), soon()));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.notSent).toBe(true);
    expect(err.details).toMatch(/REFUSED_STREAM/);
  });

  it("a GOAWAY marks the streams above its last stream id not sent, and only those", async () => {
    // Three calls reach the server; it then goes away with an error, having processed the first.
    const ch = await channelToHttp2Server((stream, seen) => {
      if (seen.length === 3) stream.session?.goaway(http2.constants.NGHTTP2_INTERNAL_ERROR, seen[0]!.id);
    });
    const errs = await Promise.all(
      ["a", "b", "c"].map((m) => failure(ch.call(echo, Buffer.from(m), soon()))),
    );
    expect(errs.map((e) => e.code)).toEqual([
      grpc.status.UNAVAILABLE,
      grpc.status.UNAVAILABLE,
      grpc.status.UNAVAILABLE,
    ]);
    expect(errs.map((e) => e.notSent)).toEqual([false, true, true]);
    expect(errs[1]!.details).toMatch(/GOAWAY, last stream 1/);
  });

  it("a stream reset after the server answered headers stays maybe-sent, whatever the code", async () => {
    const ch = await channelToHttp2Server((stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" });
      setTimeout(() => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM), 10);
    });
    const err = await failure(ch.call(echo, Buffer.from("x"), soon()));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.notSent).toBe(false);
  });
});

describe("GrpcMessageReader", () => {
  it("reassembles messages split across chunks and splits chunks holding several", () => {
    const messages = [Buffer.from("first"), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from("last")];
    const wire = Buffer.concat(messages.map(grpcFrame));
    for (const size of [1, 3, 5, 6, 4096, wire.length]) {
      const reader = new GrpcMessageReader(1 << 20);
      const out: Buffer[] = [];
      for (let i = 0; i < wire.length; i += size) out.push(...reader.push(wire.subarray(i, i + size)));
      expect(out.map((m) => m.toString("hex"))).toEqual(messages.map((m) => m.toString("hex")));
    }
  });

  it("refuses compressed and oversized messages", () => {
    const compressed = grpcFrame(Buffer.from("x"));
    compressed[0] = 1;
    expect(() => new GrpcMessageReader(10).push(compressed)).toThrow(/compressed/);
    expect(() => new GrpcMessageReader(10).push(grpcFrame(Buffer.alloc(11)))).toThrow(/larger than max/);
  });
});
