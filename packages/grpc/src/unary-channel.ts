import * as http2 from "node:http2";
import type { SecureContextOptions } from "node:tls";
import { status as GrpcStatus, Metadata } from "@grpc/grpc-js";

/** What a unary call needs of a method: its path and how its messages go on the wire. */
export interface UnaryMethod<Req, Res> {
  path: string;
  requestSerialize(req: Req): Buffer;
  responseDeserialize(bytes: Buffer): Res;
}

export interface UnaryChannelOptions {
  /** A connect that takes longer (a black-holed address) fails the call as UNAVAILABLE. */
  connectTimeoutMs: number;
  /** Pings an idle-or-busy connection this often; a missed ack closes it (a peer that vanished). */
  keepaliveMs: number;
  keepaliveTimeoutMs: number;
  /** Larger responses fail with RESOURCE_EXHAUSTED. */
  maxReceiveBytes: number;
  userAgent?: string;
  /**
   * Dials `https://` with these (ca, cert, key: a client certificate for servers that ask for one,
   * as etcd does with --client-cert-auth); plaintext HTTP/2 when absent.
   */
  tls?: SecureContextOptions | undefined;
}

export interface CallOptions {
  /** Absolute deadline (ms since the epoch), sent to the server as grpc-timeout. */
  deadline: number;
  signal?: AbortSignal | undefined;
}

/**
 * A failed call, shaped like grpc-js's ServiceError so the same error mapping reads both.
 * `notSent` says the server provably never processed the request, so any call may be retried
 * elsewhere without the risk of applying it twice: no connection was made, the stream could not be
 * opened, or the server refused the stream (RST_STREAM REFUSED_STREAM, or a GOAWAY whose last
 * stream id is below the call's: RFC 9113 §8.7 says neither was processed). Any other failure
 * after the request was handed to HTTP/2 (a reset connection, a deadline) leaves it unknown.
 */
export class UnaryCallError extends Error {
  constructor(
    readonly code: GrpcStatus,
    readonly details: string,
    readonly metadata: Metadata,
    readonly notSent = false,
  ) {
    super(`${code} ${GrpcStatus[code]}: ${details}`);
    this.name = "UnaryCallError";
  }
}

const DEFAULTS: UnaryChannelOptions = {
  connectTimeoutMs: 5_000,
  keepaliveMs: 10_000,
  keepaliveTimeoutMs: 5_000,
  maxReceiveBytes: 64 * 1024 * 1024,
};

/** A message as gRPC puts it on the wire: uncompressed flag, 4-byte big-endian length, bytes. */
export function grpcFrame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

const frame = grpcFrame;

/**
 * The lowest last-stream-id of the GOAWAYs a session received: the server processed no stream above
 * it. Kept beside the session because a closed stream no longer knows its session.
 */
const goawayLastStreamId = new WeakMap<http2.ClientHttp2Session, number>();

/**
 * Splits the DATA of a streaming response into gRPC messages, whatever the chunking: a message may
 * span chunks and a chunk may hold many messages.
 */
export class GrpcMessageReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The length of the message being received, once its 5-byte prefix is in. */
  private expected: number | undefined;

  constructor(private readonly maxMessageBytes: number) {}

  /** Adds a chunk; returns the messages it completed. Throws on a compressed or oversized message. */
  push(chunk: Buffer): Buffer[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.expected === undefined) {
        if (this.pendingBytes < 5) break;
        const head = this.joined();
        if (head[0] !== 0) throw new Error("compressed message received (no compression was negotiated)");
        const length = head.readUInt32BE(1);
        if (length > this.maxMessageBytes)
          throw new Error(`Received message larger than max (${length} vs ${this.maxMessageBytes})`);
        this.expected = length;
      }
      // Chunks are joined once per complete message, never per chunk.
      if (this.pendingBytes < 5 + this.expected) break;
      const buf = this.joined();
      out.push(buf.subarray(5, 5 + this.expected));
      const rest = buf.subarray(5 + this.expected);
      this.pending = rest.length ? [rest] : [];
      this.pendingBytes = rest.length;
      this.expected = undefined;
    }
    return out;
  }

  private joined(): Buffer {
    if (this.pending.length > 1) this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
    return this.pending[0]!;
  }
}

/** The status of a call from its trailers (or a trailers-only response's headers), if present. */
export function grpcStatusOf(
  headers: http2.IncomingHttpHeaders,
): { code: GrpcStatus; details: string } | undefined {
  if (headers["grpc-status"] === undefined) return undefined;
  return {
    code: Number(headers["grpc-status"]) as GrpcStatus,
    details: decodeMessage(headers["grpc-message"] as string | undefined),
  };
}

/** Trailers (or a trailers-only response's headers) as grpc-js Metadata; `-bin` values are base64. */
function metadataFrom(headers: http2.IncomingHttpHeaders): Metadata {
  const md = new Metadata();
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith(":") || key === "grpc-status" || key === "grpc-message" || value === undefined)
      continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (key.endsWith("-bin")) for (const part of v.split(",")) md.add(key, Buffer.from(part, "base64"));
      else md.add(key, v);
    }
  }
  return md;
}

function decodeMessage(raw: string | undefined): string {
  if (!raw) return "";
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** grpc-timeout as the protocol spells it: at most 8 digits and a unit. */
function grpcTimeout(ms: number): string {
  const n = Math.max(1, Math.ceil(ms));
  return n < 1e8 ? `${n}m` : `${Math.ceil(n / 1000)}S`;
}

/**
 * Unary gRPC calls over one HTTP/2 connection, written straight on node:http2.
 *
 * Why not grpc-js's client for these: on this project's hot paths (every apiserver write is one
 * etcd call, every component write one apiserver call) grpc-js spent 0.40–0.44 ms of CPU per unary
 * call on a 2-core machine, against 0.16–0.19 ms for the same call made here (same server, same
 * payload), because each grpc-js call goes through resolving, load-balancing, retrying and
 * subchannel call objects, interceptors and per-call credentials. connect-node has a lean gRPC
 * transport too, but it needs protobuf-es generated types, not the ts-proto ones the API uses.
 * Streaming calls (watch, logs, exec) stay on grpc-js.
 */
export class UnaryChannel {
  private readonly opts: UnaryChannelOptions;
  private session: http2.ClientHttp2Session | undefined;
  private connecting: Promise<http2.ClientHttp2Session> | undefined;
  private closed = false;

  constructor(
    readonly address: string,
    opts: Partial<UnaryChannelOptions> = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /** True while a connection is up (calls do not wait for a connect). */
  get connected(): boolean {
    return !!this.session && !this.session.closed && !this.session.destroyed && !this.connecting;
  }

  private connect(): Promise<http2.ClientHttp2Session> {
    if (this.session && !this.session.closed && !this.session.destroyed) return Promise.resolve(this.session);
    if (this.connecting) return this.connecting;
    const unavailable = (why: string) =>
      new UnaryCallError(GrpcStatus.UNAVAILABLE, `${why} ${this.address}`, new Metadata(), true);
    this.connecting = new Promise<http2.ClientHttp2Session>((resolve, reject) => {
      if (this.closed) return reject(unavailable("channel closed:"));
      const session = http2.connect(`${this.opts.tls ? "https" : "http"}://${this.address}`, {
        settings: { enablePush: false },
        maxSessionMemory: 64,
        ...this.opts.tls,
      });
      const timer = setTimeout(() => {
        session.destroy();
        reject(unavailable(`timed out after ${this.opts.connectTimeoutMs}ms connecting to`));
      }, this.opts.connectTimeoutMs);
      // Ready once the peer's SETTINGS arrive, not when TCP connects: a listener that accepts and
      // never speaks HTTP/2 (a hung process) counts as unreachable after connectTimeoutMs.
      session.once("remoteSettings", () => {
        clearTimeout(timer);
        this.session = session;
        this.keepalive(session);
        resolve(session);
      });
      session.once("error", (err) => {
        clearTimeout(timer);
        reject(unavailable(`cannot connect (${(err as NodeJS.ErrnoException).code ?? err.message}) to`));
      });
      // A server going away (GOAWAY, reset) drops the connection; the next call dials again. A
      // connection closed before the peer's SETTINGS (docker's port proxy accepts and then closes
      // when the container behind it is gone) must reject the dial: left pending, with its timer
      // cleared, nothing would keep the process alive and a CLI would exit 0 with nothing done.
      const forget = () => {
        clearTimeout(timer);
        if (this.session === session) this.session = undefined;
        reject(unavailable("connection closed before HTTP/2 settings from"));
      };
      session.once("close", forget);
      session.on("goaway", (_code: number, lastStreamId: number) =>
        goawayLastStreamId.set(
          session,
          Math.min(lastStreamId, goawayLastStreamId.get(session) ?? lastStreamId),
        ),
      );
      session.once("goaway", () => {
        forget();
        session.close();
      });
      session.on("error", () => {});
    }).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private keepalive(session: http2.ClientHttp2Session): void {
    const interval = setInterval(() => {
      // A session destroyed a moment ago (its close event not yet out) throws on ping.
      if (session.destroyed || session.closed) return;
      const timeout = setTimeout(() => session.destroy(), this.opts.keepaliveTimeoutMs);
      timeout.unref();
      try {
        const sent = session.ping((err) => {
          clearTimeout(timeout);
          if (err) session.destroy();
        });
        if (!sent) clearTimeout(timeout);
      } catch {
        clearTimeout(timeout);
        session.destroy();
      }
    }, this.opts.keepaliveMs);
    interval.unref();
    session.once("close", () => clearInterval(interval));
    // An idle connection must not keep the process alive.
    session.unref();
  }

  /**
   * Opens a streaming call on this channel's connection (etcd's bidirectional Watch): the caller
   * writes framed messages (grpcFrame) and reads them with GrpcMessageReader. Rejects as
   * UNAVAILABLE with notSent when no connection can be made.
   */
  async openStream(path: string, metadata: Record<string, string> = {}): Promise<http2.ClientHttp2Stream> {
    const session = await this.connect();
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...metadata,
    };
    if (this.opts.userAgent) headers["user-agent"] = this.opts.userAgent;
    try {
      return session.request(headers);
    } catch (err) {
      throw new UnaryCallError(GrpcStatus.UNAVAILABLE, (err as Error).message, new Metadata(), true);
    }
  }

  async call<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, opts: CallOptions): Promise<Res> {
    opts.signal?.throwIfAborted();
    const session = await this.connect();
    // The signal may have fired while connecting; an aborted signal never fires "abort" again.
    if (opts.signal?.aborted)
      throw new UnaryCallError(GrpcStatus.CANCELLED, "Cancelled on client", new Metadata(), true);
    const body = frame(method.requestSerialize(request));
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": method.path,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": grpcTimeout(opts.deadline - Date.now()),
    };
    if (this.opts.userAgent) headers["user-agent"] = this.opts.userAgent;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers);
    } catch (err) {
      // The session closed between connect and request: nothing was sent.
      throw new UnaryCallError(GrpcStatus.UNAVAILABLE, (err as Error).message, new Metadata(), true);
    }
    return await new Promise<Res>((resolve, reject) => {
      new PendingCall(
        this.address,
        this.opts.maxReceiveBytes,
        method,
        session,
        stream,
        opts,
        resolve,
        reject,
      );
      stream.end(body);
    });
  }

  close(): void {
    this.closed = true;
    this.session?.close();
    this.session = undefined;
  }
}

/**
 * One unary call in flight. A class rather than closures: every call makes one, and each closure a
 * call creates costs a defineProperty under the dev loader's keep-names transform; the trailers
 * become Metadata only when the call fails.
 */
class PendingCall<Res> {
  private readonly chunks: Buffer[] = [];
  private received = 0;
  private settled = false;
  private responded = false;
  private status: number | undefined;
  private message = "";
  /** The headers or trailers that carried grpc-status. */
  private statusHeaders: http2.IncomingHttpHeaders | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly address: string,
    private readonly maxReceiveBytes: number,
    private readonly method: UnaryMethod<unknown, Res>,
    private readonly session: http2.ClientHttp2Session,
    private readonly stream: http2.ClientHttp2Stream,
    private readonly opts: CallOptions,
    private readonly resolve: (value: Res) => void,
    private readonly reject: (err: UnaryCallError) => void,
  ) {
    this.timer = setTimeout(
      () => this.fail(GrpcStatus.DEADLINE_EXCEEDED, "Deadline exceeded"),
      Math.max(0, opts.deadline - Date.now()),
    );
    if (opts.signal) {
      this.onAbort = () => this.fail(GrpcStatus.CANCELLED, "Cancelled on client");
      opts.signal.addEventListener("abort", this.onAbort, { once: true });
    }
    stream.on("response", (h) => this.onResponse(h));
    stream.on("trailers", (h) => this.readStatus(h));
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.on("error", () => {});
    stream.on("close", () => this.onClose());
  }

  private metadata(): Metadata {
    return this.statusHeaders ? metadataFrom(this.statusHeaders) : new Metadata();
  }

  private finish(err: UnaryCallError | undefined, value?: Res): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    if (this.onAbort) this.opts.signal?.removeEventListener("abort", this.onAbort);
    if (err) this.reject(err);
    else this.resolve(value as Res);
  }

  private fail(code: GrpcStatus, details: string): void {
    this.finish(new UnaryCallError(code, details, this.metadata()));
    if (!this.stream.closed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  private readStatus(h: http2.IncomingHttpHeaders): void {
    if (h["grpc-status"] === undefined) return;
    this.status = Number(h["grpc-status"]);
    this.message = decodeMessage(h["grpc-message"] as string | undefined);
    this.statusHeaders = h;
  }

  private onResponse(h: http2.IncomingHttpHeaders): void {
    this.responded = true;
    const httpStatus = Number(h[":status"]);
    if (httpStatus !== 200 && h["grpc-status"] === undefined) {
      this.fail(
        httpStatus === 503 || httpStatus === 502 || httpStatus === 504
          ? GrpcStatus.UNAVAILABLE
          : GrpcStatus.UNKNOWN,
        `Received HTTP status code ${httpStatus}`,
      );
      return;
    }
    this.readStatus(h);
  }

  private onData(chunk: Buffer): void {
    this.received += chunk.length;
    if (this.received > this.maxReceiveBytes + 5) {
      this.fail(
        GrpcStatus.RESOURCE_EXHAUSTED,
        `Received message larger than max (${this.received} vs ${this.maxReceiveBytes})`,
      );
      return;
    }
    this.chunks.push(chunk);
  }

  /** Why the server provably did not process this stream, if it did not (see UnaryCallError). */
  private refused(): string | undefined {
    if (this.responded) return undefined;
    const last = goawayLastStreamId.get(this.session);
    const id = this.stream.id;
    if (last !== undefined && id !== undefined && id > last)
      return `${this.address} went away (GOAWAY, last stream ${last}) before processing stream ${id}`;
    if (this.stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM)
      return `${this.address} refused the stream (REFUSED_STREAM) without processing it`;
    return undefined;
  }

  private onClose(): void {
    if (this.settled) return;
    if (this.status === undefined) {
      const refused = this.refused();
      if (refused) {
        this.finish(new UnaryCallError(GrpcStatus.UNAVAILABLE, refused, this.metadata(), true));
        return;
      }
      // No status: the connection or the stream was reset under the call. The server may or
      // may not have acted on it.
      this.finish(
        new UnaryCallError(
          GrpcStatus.UNAVAILABLE,
          `connection to ${this.address} closed (stream reset with code ${this.stream.rstCode})`,
          this.metadata(),
        ),
      );
      return;
    }
    if (this.status !== GrpcStatus.OK) {
      this.finish(new UnaryCallError(this.status, this.message, this.metadata()));
      return;
    }
    const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    if (data.length < 5 || data[0] !== 0) {
      this.finish(
        new UnaryCallError(GrpcStatus.INTERNAL, "malformed or compressed response message", this.metadata()),
      );
      return;
    }
    const length = data.readUInt32BE(1);
    if (data.length !== 5 + length) {
      this.finish(
        new UnaryCallError(GrpcStatus.INTERNAL, "response message length mismatch", this.metadata()),
      );
      return;
    }
    let value: Res;
    try {
      value = this.method.responseDeserialize(data.subarray(5));
    } catch (err) {
      this.finish(
        new UnaryCallError(
          GrpcStatus.INTERNAL,
          `response could not be decoded: ${(err as Error).message}`,
          this.metadata(),
        ),
      );
      return;
    }
    this.finish(undefined, value);
  }
}
