import { type ClientHttp2Stream, constants as http2Constants } from "node:http2";
import { GrpcMessageReader, grpcFrame, grpcStatusOf } from "@tskube/grpc";
import { EtcdError } from "./etcd-errors.js";
import { type EtcdKv, type KeyValue, toKeyValue } from "./etcd-kv.js";
import { WatchService } from "./gen/etcd/etcdserver/etcdserverpb/rpc.js";
import { Event_EventType } from "./gen/etcd/mvcc/mvccpb/kv.js";

/**
 * etcd's Watch over the apiserver's own HTTP/2 connections to etcd (the ones EtcdKv makes its
 * calls on), with the messages generated from etcd's rpc.proto like etcd-kv.ts. The etcd3 npm
 * client's watch went through grpc-js's client call stack and protobufjs for every event, which
 * cost about 0.1 ms of apiserver CPU per write just to feed the watch cache. A stream that ends
 * with a gRPC status carries it as an EtcdError (no leader, ...).
 *
 * One watch per HTTP/2 stream. A broken stream (member down, connection reset, no leader) is
 * reopened on the next member from the revision after the last one delivered, so no event is
 * lost or repeated; only etcd itself ends a watch (history compacted, watch canceled).
 */

export interface WatchEvent {
  type: "put" | "delete";
  kv: KeyValue;
  /** The key's previous state (with prevKv; absent for a create or a compacted previous). */
  prevKv: KeyValue | undefined;
}

export interface WatchOptions {
  key: Buffer;
  /** Watches [key, rangeEnd); omitted = the key alone. */
  rangeEnd?: Buffer | undefined;
  /** First revision to deliver. */
  startRevision: number;
  prevKv?: boolean;
  /** Asks etcd for periodic progress notifications (its --experimental-watch-progress-notify-interval). */
  progressNotify?: boolean;
  /** First pause before reopening a broken stream; doubles up to maxRetryDelayMs. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
}

export interface WatchHandlers {
  /** etcd acknowledged the watch (once, on the first stream). */
  onCreated?(): void;
  /** Events of one response, in revision order. */
  onEvents(events: WatchEvent[]): void;
  /** Every event up to revision has been delivered (progress notification). */
  onProgress?(revision: number): void;
  /** The stream broke and is being reopened from `resumeRevision`. */
  onRetry?(err: Error, resumeRevision: number): void;
  /** etcd ended the watch; nothing more is delivered. */
  onError(err: Error): void;
}

/** etcd ended the watch because the revisions it needed are compacted. */
export class WatchCompactedError extends Error {
  constructor(
    readonly requested: number,
    readonly compactRevision: number,
  ) {
    super(
      `etcdserver: mvcc: required revision ${requested} has been compacted (compacted at ${compactRevision})`,
    );
    this.name = "WatchCompactedError";
  }
}

const WATCH = WatchService.watch;
/** clientv3.WithRequireLeader: a member cut off from its leader ends the stream instead of idling. */
const REQUIRE_LEADER = { hasleader: "true" };
const MAX_MESSAGE_BYTES = 2 ** 31 - 1;

export function encodeWatchCreate(opts: WatchOptions): Buffer {
  return WATCH.requestSerialize({
    createRequest: {
      key: opts.key,
      rangeEnd: opts.rangeEnd ?? new Uint8Array(0),
      startRevision: BigInt(opts.startRevision),
      progressNotify: opts.progressNotify ?? false,
      filters: [],
      prevKv: opts.prevKv ?? false,
      watchId: 0n,
      fragment: false,
    },
  });
}

export interface WatchResponse {
  revision: number;
  created: boolean;
  canceled: boolean;
  compactRevision: number;
  cancelReason: string;
  events: WatchEvent[];
}

export function decodeWatchResponse(bytes: Buffer): WatchResponse {
  const res = WATCH.responseDeserialize(bytes);
  return {
    revision: Number(res.header?.revision ?? 0n),
    created: res.created,
    canceled: res.canceled,
    compactRevision: Number(res.compactRevision),
    cancelReason: res.cancelReason,
    events: res.events.map((e) => {
      if (!e.kv) throw new Error("watch event without kv");
      return {
        type: e.type === Event_EventType.DELETE ? "delete" : "put",
        kv: toKeyValue(e.kv),
        prevKv: e.prevKv ? toKeyValue(e.prevKv) : undefined,
      };
    }),
  };
}

/** A running watch; see the module comment for what it guarantees. */
export class EtcdWatch {
  /** The revision the next (re)opened stream starts from. */
  private nextRevision: number;
  private stream: ClientHttp2Stream | undefined;
  private stopped = false;
  private created = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs: number;

  constructor(
    private readonly kv: EtcdKv,
    private readonly opts: WatchOptions,
    private readonly handlers: WatchHandlers,
  ) {
    this.nextRevision = opts.startRevision;
    this.retryDelayMs = opts.retryDelayMs ?? 100;
    void this.open();
  }

  /** The revision a resumed stream would start from (last delivered + 1). */
  get resumeRevision(): number {
    return this.nextRevision;
  }

  cancel(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const s = this.stream;
    this.stream = undefined;
    if (s && !s.closed) s.close(http2Constants.NGHTTP2_CANCEL);
  }

  private async open(): Promise<void> {
    let opened: Awaited<ReturnType<EtcdKv["openStream"]>>;
    try {
      opened = await this.kv.openStream(WATCH.path, REQUIRE_LEADER);
    } catch (err) {
      this.retry(err as Error);
      return;
    }
    const { stream, member } = opened;
    if (this.stopped) {
      stream.close(http2Constants.NGHTTP2_CANCEL);
      return;
    }
    this.stream = stream;
    const reader = new GrpcMessageReader(MAX_MESSAGE_BYTES);
    let ended = false;
    let failure: Error | undefined;
    // Ends this stream once: by etcd (terminal) or by a transport failure (reopened elsewhere).
    const end = (terminal: Error | undefined, transient: Error | undefined) => {
      if (ended) return;
      ended = true;
      if (this.stream === stream) this.stream = undefined;
      if (!stream.closed) stream.close(http2Constants.NGHTTP2_CANCEL);
      if (this.stopped) return;
      if (terminal) {
        this.stopped = true;
        this.handlers.onError(terminal);
      } else if (transient) {
        this.kv.memberFailed(member);
        this.retry(transient);
      }
    };
    stream.on("data", (chunk: Buffer) => {
      if (ended) return;
      let messages: Buffer[];
      try {
        messages = reader.push(chunk);
      } catch (err) {
        end(undefined, err as Error);
        return;
      }
      for (const m of messages) {
        if (ended) return;
        let res: WatchResponse;
        try {
          res = decodeWatchResponse(m);
        } catch (err) {
          end(undefined, new Error(`watch response could not be decoded: ${(err as Error).message}`));
          return;
        }
        this.handle(res, end);
      }
    });
    const status = (h: Parameters<typeof grpcStatusOf>[0]) => {
      const st = grpcStatusOf(h);
      if (st && st.code !== 0) failure = EtcdError.ofStatus(st.code, st.details);
    };
    stream.on("response", status);
    stream.on("trailers", status);
    stream.on("error", (err) => {
      failure ??= err;
    });
    stream.on("close", () =>
      end(undefined, failure ?? new Error(`etcd watch stream closed (code ${stream.rstCode})`)),
    );
    stream.write(grpcFrame(encodeWatchCreate({ ...this.opts, startRevision: this.nextRevision })));
  }

  private handle(
    res: WatchResponse,
    end: (terminal: Error | undefined, transient: Error | undefined) => void,
  ) {
    if (res.created && !this.created) {
      this.created = true;
      this.handlers.onCreated?.();
    }
    if (res.created) this.retryDelayMs = this.opts.retryDelayMs ?? 100;
    if (res.canceled) {
      end(
        res.compactRevision > 0
          ? new WatchCompactedError(this.nextRevision, res.compactRevision)
          : new Error(`etcd canceled the watch: ${res.cancelReason || "no reason given"}`),
        undefined,
      );
      return;
    }
    if (res.events.length > 0) {
      // Whole responses only, so a resumed stream never repeats part of one.
      this.nextRevision = res.events[res.events.length - 1]!.kv.modRevision + 1;
      this.handlers.onEvents(res.events);
    } else if (!res.created && res.revision >= this.nextRevision) {
      this.nextRevision = res.revision + 1;
      this.handlers.onProgress?.(res.revision);
    }
  }

  private retry(err: Error): void {
    if (this.stopped) return;
    this.handlers.onRetry?.(err, this.nextRevision);
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(delay * 2, this.opts.maxRetryDelayMs ?? 2_000);
    this.retryTimer = setTimeout(() => void this.open(), delay);
  }
}
