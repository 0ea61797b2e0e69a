import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { Metadata, status } from "@grpc/grpc-js";
import { UnaryCallError } from "@tskube/grpc";
import { describe, expect, it } from "vitest";
import { EtcdError, isEtcdError } from "./etcd-errors.js";
import { type GuardedWrite, guardedTxn } from "./etcd-kv.js";
import { KVService, TxnRequest } from "./gen/etcd/etcdserver/etcdserverpb/rpc.js";

/** The TxnRequest the apiserver sent before its messages were generated, field by field. */
function handWritten(write: GuardedWrite): Buffer {
  const compare = new BinaryWriter();
  compare.uint32(8).int32(0);
  compare.uint32(16).int32(2);
  compare.uint32(26).bytes(write.key);
  compare.uint32(48).int64(write.modRevision);
  const op = new BinaryWriter();
  if (write.put) {
    const put = new BinaryWriter();
    put.uint32(10).bytes(write.key);
    put.uint32(18).bytes(write.put);
    op.uint32(18).bytes(put.finish());
  } else {
    const del = new BinaryWriter();
    del.uint32(10).bytes(write.key);
    op.uint32(26).bytes(del.finish());
  }
  const txn = new BinaryWriter();
  txn.uint32(10).bytes(compare.finish());
  txn.uint32(18).bytes(op.finish());
  return Buffer.from(txn.finish());
}

const encode = (w: GuardedWrite) => KVService.txn.requestSerialize(guardedTxn(w));

describe("guardedTxn", () => {
  const keys = [1, 127, 128, 16_384].map((n) => Buffer.alloc(n, "k"));
  const values = [undefined, 0, 1, 127, 128, 16_384].map((n) =>
    n === undefined ? undefined : Buffer.alloc(n, 7),
  );
  const revisions = [0, 1, 127, 128, 2 ** 31, 2 ** 53 - 1];

  // Byte for byte they differ only where proto3 allows it (ts-proto leaves out an enum or an empty
  // value that is its default; the hand-written one wrote them), so the hand-written bytes are
  // decoded and encoded again by the generated code.
  it("sends what the hand-written encoder sent, for puts and deletes of every size", () => {
    for (const key of keys)
      for (const put of values)
        for (const modRevision of revisions) {
          const write = { key, put, modRevision };
          expect(
            encode(write).equals(TxnRequest.encode(TxnRequest.decode(handWritten(write))).finish()),
            JSON.stringify({ key: key.length, put: put?.length, modRevision }),
          ).toBe(true);
        }
  });

  it("compares mod_revision 0 (the key is absent) explicitly: the oneof is set, not defaulted", () => {
    const txn = TxnRequest.decode(encode({ key: Buffer.from("/k"), modRevision: 0, put: Buffer.from("v") }));
    expect(txn.compare[0]!.modRevision).toBe(0n);
    expect(txn.failure).toEqual([]);
  });

  it("reads the key in the failure branch and attaches a lease when asked", () => {
    const txn = TxnRequest.decode(
      encode({
        key: Buffer.from("/k"),
        modRevision: 9,
        put: Buffer.from("v"),
        lease: 2n ** 62n + 3n,
        readOnFailure: true,
      }),
    );
    expect(txn.success[0]!.requestPut!.lease).toBe(2n ** 62n + 3n);
    expect(Buffer.from(txn.failure[0]!.requestRange!.key).toString()).toBe("/k");
    expect(txn.failure[0]!.requestRange!.rangeEnd.length).toBe(0);
  });
});

describe("EtcdError", () => {
  const call = (code: status, details: string, notSent = false) =>
    EtcdError.from(new UnaryCallError(code, details, new Metadata(), notSent));

  it("names etcd's errors by gRPC code and etcd's description", () => {
    const compacted = call(status.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted");
    expect(compacted.etcd).toBe("compacted");
    expect(isEtcdError(compacted, "compacted")).toBe(true);
    expect(call(status.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision").etcd).toBe(
      "futureRevision",
    );
    expect(call(status.UNAVAILABLE, "etcdserver: no leader").etcd).toBe("noLeader");
    expect(call(status.NOT_FOUND, "etcdserver: requested lease not found").etcd).toBe("leaseNotFound");
  });

  it("does not name an error from a look-alike message under another code", () => {
    expect(
      call(status.UNKNOWN, "etcdserver: mvcc: required revision has been compacted").etcd,
    ).toBeUndefined();
    const down = call(status.UNAVAILABLE, "cannot connect (ECONNREFUSED) to 127.0.0.1:2379", true);
    expect(down.etcd).toBeUndefined();
    expect(down.code).toBe(status.UNAVAILABLE);
    expect(down.notSent).toBe(true);
    expect(down.message).toBe("etcd: UNAVAILABLE: cannot connect (ECONNREFUSED) to 127.0.0.1:2379");
  });
});
