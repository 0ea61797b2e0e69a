import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { encodeGuardedTxn, type GuardedWrite } from "./etcd-kv.js";

/** The same TxnRequest built field by field with protobuf-es' writer, as a reference. */
function reference(write: GuardedWrite): Buffer {
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

describe("encodeGuardedTxn", () => {
  // Lengths and revisions on both sides of every varint width that matters here.
  const keys = [0, 1, 100, 127, 128, 16_383, 16_384].map((n) => Buffer.alloc(n, "k"));
  const values = [undefined, 0, 1, 120, 127, 128, 300, 16_383, 16_384, 2_100_000].map((n) =>
    n === undefined ? undefined : Buffer.alloc(n, 7),
  );
  const revisions = [0, 1, 127, 128, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1];

  it("writes the same bytes as protobuf-es for puts and deletes of every size", () => {
    for (const key of keys)
      for (const put of values)
        for (const modRevision of revisions) {
          const write = { key, put, modRevision };
          expect(
            encodeGuardedTxn(write).equals(reference(write)),
            JSON.stringify({ key: key.length, put: put?.length, modRevision }),
          ).toBe(true);
        }
  });
});
