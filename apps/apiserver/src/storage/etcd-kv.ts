import type { ClientHttp2Stream } from "node:http2";
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { UnaryCallError, UnaryChannel, type UnaryMethod } from "@tskube/grpc";

/**
 * The few etcd v3 KV calls the store makes (Range, guarded Txn, Compact), encoded by hand from
 * etcd's rpc.proto and sent over UnaryChannel. Every apiserver write is one of these calls, and
 * the etcd3 npm client (grpc-js plus dynamically loaded protobufjs types) cost about as much CPU
 * per call as the rest of the apiserver's create path. Watch streams share these connections
 * (etcd-watch.ts).
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
}

export interface TxnResponse {
  revision: number;
  succeeded: boolean;
}

// Field numbers from etcd's api/etcdserverpb/rpc.proto and api/mvccpb/kv.proto.
const COMPARE_RESULT_EQUAL = 0;
const COMPARE_TARGET_MOD = 2;

const num = (v: bigint | number | string): number => Number(v);

export function readHeaderRevision(bytes: Uint8Array): number {
  const r = new BinaryReader(bytes);
  let revision = 0;
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 3) revision = num(r.int64());
    else r.skip(wire);
  }
  return revision;
}

export function readKeyValue(bytes: Uint8Array): KeyValue {
  const r = new BinaryReader(bytes);
  const kv: KeyValue = {
    key: Buffer.alloc(0),
    value: Buffer.alloc(0),
    createRevision: 0,
    modRevision: 0,
    version: 0,
  };
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    switch (field) {
      case 1:
        kv.key = Buffer.from(r.bytes());
        break;
      case 2:
        kv.createRevision = num(r.int64());
        break;
      case 3:
        kv.modRevision = num(r.int64());
        break;
      case 4:
        kv.version = num(r.int64());
        break;
      case 5:
        kv.value = Buffer.from(r.bytes());
        break;
      default:
        r.skip(wire);
    }
  }
  return kv;
}

export function encodeRangeRequest(req: RangeRequest): Buffer {
  const w = new BinaryWriter();
  w.uint32(10).bytes(req.key);
  if (req.rangeEnd) w.uint32(18).bytes(req.rangeEnd);
  if (req.limit) w.uint32(24).int64(req.limit);
  if (req.revision) w.uint32(32).int64(req.revision);
  if (req.keysOnly) w.uint32(64).bool(true);
  return Buffer.from(w.finish());
}

export function decodeRangeResponse(bytes: Uint8Array): RangeResponse {
  const r = new BinaryReader(bytes);
  const out: RangeResponse = { revision: 0, kvs: [], more: false, count: 0 };
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    switch (field) {
      case 1:
        out.revision = readHeaderRevision(r.bytes());
        break;
      case 2:
        out.kvs.push(readKeyValue(r.bytes()));
        break;
      case 3:
        out.more = r.bool();
        break;
      case 4:
        out.count = num(r.int64());
        break;
      default:
        r.skip(wire);
    }
  }
  return out;
}

/** Bytes of n as a protobuf varint (n a non-negative safe integer). */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** A length-delimited field's size: tag, length varint, payload. */
const fieldSize = (payload: number) => 1 + varintSize(payload) + payload;

/**
 * TxnRequest{compare: [key MOD == modRevision], success: [put or delete_range]}, written straight
 * into one buffer: every apiserver write sends one, and protobuf-es' BinaryWriter (a writer per
 * nested message, each finish() copying the value again) cost about as much as the rest of the call.
 */
export function encodeGuardedTxn(write: GuardedWrite): Buffer {
  const key = write.key;
  // Compare{result: EQUAL, target: MOD, key, mod_revision}. mod_revision is in a oneof: it is
  // written even when 0, or the compare has no target value. result is written although it is 0.
  const compareSize = 2 + 2 + fieldSize(key.length) + 1 + varintSize(write.modRevision);
  // RequestOp{request_put: PutRequest{key, value}} or {request_delete_range: DeleteRangeRequest{key}}.
  const innerSize = write.put ? fieldSize(key.length) + fieldSize(write.put.length) : fieldSize(key.length);
  const opSize = fieldSize(innerSize);
  const buf = Buffer.allocUnsafe(fieldSize(compareSize) + fieldSize(opSize));
  let pos = 0;
  buf[pos++] = 10;
  pos = writeVarint(buf, pos, compareSize);
  buf[pos++] = 8;
  buf[pos++] = COMPARE_RESULT_EQUAL;
  buf[pos++] = 16;
  buf[pos++] = COMPARE_TARGET_MOD;
  buf[pos++] = 26;
  pos = writeVarint(buf, pos, key.length);
  pos += key.copy(buf, pos);
  buf[pos++] = 48;
  pos = writeVarint(buf, pos, write.modRevision);
  buf[pos++] = 18;
  pos = writeVarint(buf, pos, opSize);
  buf[pos++] = write.put ? 18 : 26;
  pos = writeVarint(buf, pos, innerSize);
  buf[pos++] = 10;
  pos = writeVarint(buf, pos, key.length);
  pos += key.copy(buf, pos);
  if (write.put) {
    buf[pos++] = 18;
    pos = writeVarint(buf, pos, write.put.length);
    pos += write.put.copy(buf, pos);
  }
  return buf;
}

export function decodeTxnResponse(bytes: Uint8Array): TxnResponse {
  const r = new BinaryReader(bytes);
  const out: TxnResponse = { revision: 0, succeeded: false };
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1) out.revision = readHeaderRevision(r.bytes());
    else if (field === 2) out.succeeded = r.bool();
    else r.skip(wire);
  }
  return out;
}

function encodeCompaction(revision: number): Buffer {
  const w = new BinaryWriter();
  w.uint32(8).int64(revision);
  return Buffer.from(w.finish());
}

const identity = (b: Buffer) => b;
const RANGE: UnaryMethod<Buffer, RangeResponse> = {
  path: "/etcdserverpb.KV/Range",
  requestSerialize: identity,
  responseDeserialize: decodeRangeResponse,
};
const TXN: UnaryMethod<Buffer, TxnResponse> = {
  path: "/etcdserverpb.KV/Txn",
  requestSerialize: identity,
  responseDeserialize: decodeTxnResponse,
};
const COMPACT: UnaryMethod<Buffer, void> = {
  path: "/etcdserverpb.KV/Compact",
  requestSerialize: identity,
  responseDeserialize: () => undefined,
};

export interface EtcdKvOptions {
  /** Per-call deadline. */
  timeoutMs: number;
  connectTimeoutMs: number;
}

/** `http://host:port` (as --etcd-servers lists members) → `host:port`. */
const hostOf = (endpoint: string) => endpoint.replace(/^[a-z]+:\/\//, "").replace(/\/+$/, "");

/**
 * KV calls to an etcd cluster: one connection per member, calls go to one member at a time and
 * move to the next when it is unreachable. Reads are retried on any member; writes only when the
 * request never left (retrying a write that may have been applied could report a false conflict).
 */
export class EtcdKv {
  private readonly channels: UnaryChannel[];
  private current = 0;

  constructor(
    endpoints: string[],
    private readonly opts: EtcdKvOptions,
  ) {
    if (endpoints.length === 0) throw new Error("EtcdKv: at least one etcd endpoint is required");
    this.channels = endpoints.map(
      (e) =>
        new UnaryChannel(hostOf(e), {
          connectTimeoutMs: opts.connectTimeoutMs,
          maxReceiveBytes: 2 ** 31 - 1,
        }),
    );
  }

  private async call<Res>(method: UnaryMethod<Buffer, Res>, body: Buffer, idempotent: boolean): Promise<Res> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < this.channels.length; attempt++) {
      const index = this.current;
      try {
        return await this.channels[index]!.call(method, body, { deadline: Date.now() + this.opts.timeoutMs });
      } catch (err) {
        lastErr = err;
        const unreachable =
          err instanceof UnaryCallError && err.code === GrpcStatus.UNAVAILABLE && (err.notSent || idempotent);
        if (!unreachable) throw err;
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
        lastErr = err;
        this.memberFailed(member);
      }
    }
    throw lastErr;
  }

  /** Moves later calls to the next member, unless someone already moved them. */
  memberFailed(member: number): void {
    if (this.current === member) this.current = (member + 1) % this.channels.length;
  }

  range(req: RangeRequest): Promise<RangeResponse> {
    return this.call(RANGE, encodeRangeRequest(req), true);
  }

  txn(write: GuardedWrite): Promise<TxnResponse> {
    return this.call(TXN, encodeGuardedTxn(write), false);
  }

  async compact(revision: number): Promise<void> {
    await this.call(COMPACT, encodeCompaction(revision), true);
  }

  close(): void {
    for (const c of this.channels) c.close();
  }
}
