import type { ClientHttp2Stream } from "node:http2";
import type { SecureContextOptions } from "node:tls";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { UnaryCallError, UnaryChannel, type UnaryMethod } from "@tskube/grpc";
import { EtcdError } from "./etcd-errors.js";
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  KVService,
  LeaseService,
  type RangeRequest as PbRangeRequest,
  type RangeResponse as PbRangeResponse,
  type TxnResponse as PbTxnResponse,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  type RequestOp,
} from "./gen/etcd/etcdserver/etcdserverpb/rpc.js";
import type { KeyValue as PbKeyValue } from "./gen/etcd/mvcc/mvccpb/kv.js";

/**
 * The few etcd v3 calls the store makes (Range, guarded Txn, Compact, LeaseGrant), with the
 * messages generated from etcd's own rpc.proto (apps/apiserver/proto) and sent over UnaryChannel.
 * Every apiserver write is one of these calls, and the etcd3 npm client (grpc-js plus dynamically
 * loaded protobufjs types) cost about as much CPU per call as the rest of the apiserver's create
 * path. Watch streams share these connections (etcd-watch.ts). Failures are EtcdErrors, told apart
 * by gRPC code and etcd's own error (etcd-errors.ts).
 */

export interface KeyValue {
  key: Buffer;
  value: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
}

export interface RangeRequest {
  key: Buffer;
  rangeEnd?: Buffer | undefined;
  limit?: number | undefined;
  revision?: number | undefined;
  keysOnly?: boolean | undefined;
}

export interface RangeResponse {
  revision: number;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

/** A write guarded on the key's mod_revision (0 = "the key does not exist"). */
export interface GuardedWrite {
  key: Buffer;
  modRevision: number;
  /** The value to put; undefined deletes the key. */
  put?: Buffer | undefined;
  /** The put is attached to this lease (etcd deletes the key when it expires). */
  lease?: bigint | undefined;
  /**
   * When the compare fails, the same transaction reads the key (Kubernetes' etcd3 store does this
   * on updates): the caller retries from the current value without another round trip.
   */
  readOnFailure?: boolean | undefined;
}

export interface TxnResponse {
  revision: number;
  succeeded: boolean;
  /**
   * With readOnFailure and a failed compare: the key as it is now, or undefined when it is gone.
   * Always undefined when the write succeeded.
   */
  current?: KeyValue | undefined;
}

export interface LeaseGrant {
  id: bigint;
  ttlSeconds: number;
}

/** A view of a generated message's bytes as a Buffer, without copying them. */
const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

export function toKeyValue(kv: PbKeyValue): KeyValue {
  return {
    key: buf(kv.key),
    value: buf(kv.value),
    createRevision: Number(kv.createRevision),
    modRevision: Number(kv.modRevision),
    version: Number(kv.version),
  };
}

const EMPTY = new Uint8Array(0);
const big = (n: number | undefined) => BigInt(n ?? 0);

export function rangeRequest(req: RangeRequest): PbRangeRequest {
  return {
    key: req.key,
    rangeEnd: req.rangeEnd ?? EMPTY,
    limit: big(req.limit),
    revision: big(req.revision),
    sortOrder: RangeRequest_SortOrder.NONE,
    sortTarget: RangeRequest_SortTarget.KEY,
    serializable: false,
    keysOnly: req.keysOnly ?? false,
    countOnly: false,
    minModRevision: 0n,
    maxModRevision: 0n,
    minCreateRevision: 0n,
    maxCreateRevision: 0n,
  };
}

function fromRangeResponse(res: PbRangeResponse): RangeResponse {
  return {
    revision: Number(res.header?.revision ?? 0n),
    kvs: res.kvs.map(toKeyValue),
    more: res.more,
    count: Number(res.count),
  };
}

/**
 * TxnRequest{compare: [key MOD == modRevision], success: [put or delete_range],
 * failure: [range key] (readOnFailure)}. mod_revision is in the Compare's target_union oneof: it is
 * sent even when 0 (oneof=properties writes any value that is set), or the compare has no target.
 */
export function guardedTxn(write: GuardedWrite): Parameters<typeof KVService.txn.requestSerialize>[0] {
  const op: RequestOp = write.put
    ? {
        requestPut: {
          key: write.key,
          value: write.put,
          lease: write.lease ?? 0n,
          prevKv: false,
          ignoreValue: false,
          ignoreLease: false,
        },
      }
    : { requestDeleteRange: { key: write.key, rangeEnd: EMPTY, prevKv: false } };
  return {
    compare: [
      {
        result: Compare_CompareResult.EQUAL,
        target: Compare_CompareTarget.MOD,
        key: write.key,
        modRevision: BigInt(write.modRevision),
        rangeEnd: EMPTY,
      },
    ],
    success: [op],
    failure: write.readOnFailure ? [{ requestRange: rangeRequest({ key: write.key }) }] : [],
  };
}

function fromTxnResponse(res: PbTxnResponse): TxnResponse {
  const out: TxnResponse = { revision: Number(res.header?.revision ?? 0n), succeeded: res.succeeded };
  if (!res.succeeded) {
    const kv = res.responses[0]?.responseRange?.kvs[0];
    if (kv) out.current = toKeyValue(kv);
  }
  return out;
}

export interface EtcdKvOptions {
  /** Per-call deadline. */
  timeoutMs: number;
  connectTimeoutMs: number;
  /**
   * TLS to every member (Kubernetes' --etcd-cafile, --etcd-certfile, --etcd-keyfile): `https://`
   * endpoints need it, and a member with --client-cert-auth needs cert and key.
   */
  tls?: SecureContextOptions | undefined;
}

/** `http://host:port` (as --etcd-servers lists members) → `host:port`. */
const hostOf = (endpoint: string) => endpoint.replace(/^[a-z]+:\/\//, "").replace(/\/+$/, "");

/** The etcd calls EtcdKv makes, counted (etcd_requests_total) so round trips per write can be seen. */
export type EtcdOperation = "range" | "txn" | "compact" | "leaseGrant";

/**
 * KV calls to an etcd cluster: one connection per member, calls go to one member at a time and
 * move to the next when it is unreachable. Reads are retried on any member; writes only when the
 * request never left (retrying a write that may have been applied could report a false conflict).
 */
export class EtcdKv {
  private readonly channels: UnaryChannel[];
  private current = 0;
  /** Calls made, by operation (each one is one round trip to a member, retries included). */
  readonly requests: Record<EtcdOperation, number> = { range: 0, txn: 0, compact: 0, leaseGrant: 0 };

  constructor(
    endpoints: string[],
    private readonly opts: EtcdKvOptions,
  ) {
    if (endpoints.length === 0) throw new Error("EtcdKv: at least one etcd endpoint is required");
    for (const e of endpoints) {
      const scheme = /^([a-z]+):\/\//.exec(e)?.[1] ?? "http";
      if (scheme === "https" && !opts.tls)
        throw new Error(`EtcdKv: ${e} is https:// but no TLS settings were given (--etcd-cafile)`);
      if (scheme === "http" && opts.tls)
        throw new Error(`EtcdKv: ${e} is http:// but TLS settings were given: use https:// endpoints`);
      if (scheme !== "http" && scheme !== "https")
        throw new Error(`EtcdKv: ${e}: the scheme must be http:// or https://`);
    }
    this.channels = endpoints.map(
      (e) =>
        new UnaryChannel(hostOf(e), {
          connectTimeoutMs: opts.connectTimeoutMs,
          maxReceiveBytes: 2 ** 31 - 1,
          tls: opts.tls,
        }),
    );
  }

  private async call<Req, Res>(
    operation: EtcdOperation,
    method: UnaryMethod<Req, Res>,
    body: Req,
    idempotent: boolean,
  ): Promise<Res> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < this.channels.length; attempt++) {
      const index = this.current;
      this.requests[operation]++;
      try {
        return await this.channels[index]!.call(method, body, { deadline: Date.now() + this.opts.timeoutMs });
      } catch (err) {
        lastErr = err instanceof UnaryCallError ? this.etcdError(err) : err;
        const unreachable =
          err instanceof UnaryCallError && err.code === GrpcStatus.UNAVAILABLE && (err.notSent || idempotent);
        if (!unreachable) throw lastErr;
        this.memberFailed(index);
      }
    }
    throw lastErr;
  }

  /**
   * Opens a streaming call on the first reachable member, starting with the current one; returns
   * the stream and the member's index (pass it to memberFailed when the stream breaks).
   */
  async openStream(
    path: string,
    metadata: Record<string, string>,
  ): Promise<{ stream: ClientHttp2Stream; member: number }> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < this.channels.length; attempt++) {
      const member = this.current;
      try {
        return { stream: await this.channels[member]!.openStream(path, metadata), member };
      } catch (err) {
        lastErr = err instanceof UnaryCallError ? this.etcdError(err) : err;
        this.memberFailed(member);
      }
    }
    throw lastErr;
  }

  /**
   * An etcd with --client-cert-auth finishes the TLS 1.3 handshake with a client that sent no
   * certificate and then never answers, so the call only times out connecting: say what is missing.
   */
  private etcdError(err: UnaryCallError): EtcdError {
    const e = EtcdError.from(err);
    if (!err.notSent || !this.opts.tls || this.opts.tls.cert) return e;
    return new EtcdError(
      e.code,
      `${e.details} (TLS without a client certificate: an etcd with --client-cert-auth needs --etcd-certfile and --etcd-keyfile)`,
      e.etcd,
      e.notSent,
      e.metadata,
    );
  }

  /** Moves later calls to the next member, unless someone already moved them. */
  memberFailed(member: number): void {
    if (this.current === member) this.current = (member + 1) % this.channels.length;
  }

  async range(req: RangeRequest): Promise<RangeResponse> {
    return fromRangeResponse(await this.call("range", KVService.range, rangeRequest(req), true));
  }

  async txn(write: GuardedWrite): Promise<TxnResponse> {
    return fromTxnResponse(await this.call("txn", KVService.txn, guardedTxn(write), false));
  }

  async compact(revision: number): Promise<void> {
    await this.call("compact", KVService.compact, { revision: BigInt(revision), physical: false }, true);
  }

  /**
   * A new lease of ttlSeconds (etcd may round it up to its minimum). Not retried on another member
   * once sent: a lease granted twice is only an unused lease that expires.
   */
  async leaseGrant(ttlSeconds: number): Promise<LeaseGrant> {
    const res = await this.call(
      "leaseGrant",
      LeaseService.leaseGrant,
      { TTL: BigInt(ttlSeconds), ID: 0n },
      false,
    );
    return { id: res.ID, ttlSeconds: Number(res.TTL) };
  }

  close(): void {
    for (const c of this.channels) c.close();
  }
}
