import type * as http2 from "node:http2";
import { gunzipSync, inflateSync } from "node:zlib";
import {
  status as GrpcStatus,
  Metadata,
  type Server,
  type ServiceDefinition,
  type ServiceError,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { grpcFrame } from "./unary-channel.js";

/**
 * The unary methods of chosen services served straight on node:http2, beside grpc-js on the same
 * port: grpc-js keeps the connections (keepalive, shutdown), the streaming methods, health and
 * reflection; a stream whose path is a lean method is answered here instead.
 *
 * Why: grpc-js's server spends about 0.05 ms of CPU per unary call on its call objects, interceptor
 * chain and stream wrappers (0.14–0.15 ms per call against 0.10 ms written on node:http2, same
 * payload, on a 2-core machine), a tenth of the apiserver's whole cost of a create.
 *
 * Handlers keep grpc-js's unary signature, `(call, callback)`, with `call.request`,
 * `call.metadata`, `call.cancelled` and `call.getDeadline()`.
 */
export class LeanUnaryMethods {
  private readonly methods = new Map<string, LeanMethod>();

  constructor(private readonly maxReceiveBytes: number) {}

  /** Records the service's unary methods; its streaming methods stay grpc-js's. */
  add(definition: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    for (const [name, m] of Object.entries(definition)) {
      if (m.requestStream || m.responseStream) continue;
      const handler = implementation[name] ?? implementation[m.originalName ?? ""];
      if (typeof handler !== "function") continue;
      this.methods.set(m.path, {
        deserialize: m.requestDeserialize as (b: Buffer) => unknown,
        serialize: m.responseSerialize as (v: unknown) => Buffer,
        handler: handler as unknown as LeanMethod["handler"],
      });
    }
  }

  /**
   * Puts this dispatch in front of grpc-js's stream handler on every HTTP/2 server the bound
   * grpc-js server listens with. Throws when grpc-js's internals are not as expected (another
   * version): better a failed start than a silent fallback.
   */
  install(server: Server): void {
    const servers = (server as unknown as { http2Servers?: Map<http2.Http2Server, unknown> }).http2Servers;
    if (!(servers instanceof Map) || servers.size === 0)
      throw new Error("lean unary methods: the grpc-js server has no HTTP/2 server to serve on (not bound?)");
    for (const h2 of servers.keys()) {
      const listeners = h2.listeners("stream") as StreamListener[];
      if (listeners.length !== 1)
        throw new Error(
          `lean unary methods: expected grpc-js's one stream handler, found ${listeners.length}`,
        );
      const grpcJs = listeners[0]!;
      h2.removeListener("stream", grpcJs);
      h2.on(
        "stream",
        (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) => {
          const method = this.methods.get(headers[":path"] ?? "");
          const contentType = headers["content-type"];
          if (method && typeof contentType === "string" && contentType.startsWith("application/grpc"))
            new LeanCall(method, stream, headers, this.maxReceiveBytes);
          else grpcJs.call(h2, stream, headers, ...rest);
        },
      );
    }
  }

  get size(): number {
    return this.methods.size;
  }
}

type StreamListener = (
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  ...rest: unknown[]
) => void;

interface LeanMethod {
  deserialize(bytes: Buffer): unknown;
  serialize(value: unknown): Buffer;
  handler(
    call: LeanCall,
    callback: (err: Partial<ServiceError> | null, value?: unknown, trailer?: Metadata) => void,
  ): void;
}

const RESPONSE_HEADERS = { ":status": 200, "content-type": "application/grpc+proto" } as const;

/**
 * One unary call: read the request message, run the handler, answer with one message and the
 * status trailers, or a trailers-only error. A class rather than closures: every call makes one.
 */
class LeanCall {
  cancelled = false;
  private readonly chunks: Buffer[] = [];
  private received = 0;
  private done = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly deadline: number;
  private md: Metadata | undefined;
  request: unknown;

  constructor(
    private readonly method: LeanMethod,
    private readonly stream: http2.ServerHttp2Stream,
    private readonly headers: http2.IncomingHttpHeaders,
    private readonly maxReceiveBytes: number,
  ) {
    const timeoutMs = parseGrpcTimeout(headers["grpc-timeout"]);
    this.deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    if (timeoutMs !== undefined)
      this.timer = setTimeout(() => this.fail(GrpcStatus.DEADLINE_EXCEEDED, "Deadline exceeded"), timeoutMs);
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.on("end", () => this.onEnd());
    stream.on("error", () => {});
    stream.on("close", () => this.onClose());
  }

  get metadata(): Metadata {
    this.md ??= Metadata.fromHttp2Headers(this.headers);
    return this.md;
  }

  getDeadline(): Date | number {
    return Number.isFinite(this.deadline) ? new Date(this.deadline) : Number.POSITIVE_INFINITY;
  }

  getPeer(): string {
    const s = this.stream.session?.socket;
    return s?.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : "unknown";
  }

  private onData(chunk: Buffer): void {
    if (this.done) return;
    this.received += chunk.length;
    if (this.received > this.maxReceiveBytes + 5) {
      this.fail(
        GrpcStatus.RESOURCE_EXHAUSTED,
        `Received message larger than max (${this.received - 5} vs ${this.maxReceiveBytes})`,
      );
      return;
    }
    this.chunks.push(chunk);
  }

  private onEnd(): void {
    if (this.done) return;
    let message: Buffer;
    try {
      message = this.message();
    } catch (err) {
      this.fail(GrpcStatus.INTERNAL, (err as Error).message);
      return;
    }
    try {
      this.request = this.method.deserialize(message);
    } catch (err) {
      this.fail(GrpcStatus.INTERNAL, `Error deserializing request: ${(err as Error).message}`);
      return;
    }
    try {
      this.method.handler(this, (err, value, trailer) => this.answer(err, value, trailer));
    } catch (err) {
      this.fail(GrpcStatus.UNKNOWN, `Server method handler threw error ${(err as Error).message}`);
    }
  }

  /** The one request message, unframed (and inflated when the client compressed it). */
  private message(): Buffer {
    const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.received);
    if (data.length < 5) throw new Error("request message missing or truncated");
    const length = data.readUInt32BE(1);
    if (data.length !== 5 + length) throw new Error("request message length mismatch");
    const body = data.subarray(5);
    if (data[0] === 0) return body;
    const encoding = this.headers["grpc-encoding"];
    if (encoding === "gzip") return gunzipSync(body);
    if (encoding === "deflate") return inflateSync(body);
    throw new Error(`compressed request with unsupported grpc-encoding ${JSON.stringify(encoding)}`);
  }

  private answer(err: Partial<ServiceError> | null, value: unknown, trailer: Metadata | undefined): void {
    if (err) {
      this.fail(err.code ?? GrpcStatus.UNKNOWN, err.details ?? err.message ?? "", err.metadata ?? trailer);
      return;
    }
    let body: Buffer;
    try {
      body = this.method.serialize(value);
    } catch (e) {
      this.fail(GrpcStatus.INTERNAL, `Error serializing response: ${(e as Error).message}`);
      return;
    }
    if (!this.finish()) return;
    const trailers = { "grpc-status": "0", "grpc-message": "", ...trailer?.toHttp2Headers() };
    try {
      this.stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
      this.stream.once("wantTrailers", () => this.stream.sendTrailers(trailers));
      this.stream.end(grpcFrame(body));
    } catch {
      // The stream closed under us (client gone): nothing to answer.
    }
  }

  /** A trailers-only response with the status. */
  private fail(code: GrpcStatus, details: string, metadata?: Metadata): void {
    if (!this.finish()) return;
    try {
      this.stream.respond(
        {
          ...RESPONSE_HEADERS,
          "grpc-status": String(code),
          "grpc-message": encodeGrpcMessage(details),
          ...metadata?.toHttp2Headers(),
        },
        { endStream: true },
      );
    } catch {
      // Closed already.
    }
  }

  /** Marks the call answered; false when it was already (or the stream is gone). */
  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    clearTimeout(this.timer);
    return !this.stream.closed && !this.stream.destroyed;
  }

  private onClose(): void {
    clearTimeout(this.timer);
    if (!this.done) {
      this.done = true;
      this.cancelled = true;
    }
  }
}

/** grpc-timeout ("100m", "5S", …) in milliseconds. */
export function parseGrpcTimeout(raw: string | string[] | undefined): number | undefined {
  if (typeof raw !== "string") return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(raw);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unitMs = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 }[m[2] as "H"];
  return n * unitMs;
}

/** grpc-message: percent-encoded outside printable ASCII, and '%' itself (the gRPC spec). */
export function encodeGrpcMessage(message: string): string {
  // Fast path: most messages are plain ASCII.
  if (/^[\x20-\x24\x26-\x7e]*$/.test(message)) return message;
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
