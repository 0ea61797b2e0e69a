import type { Etcd3, IKeyValue } from "etcd3";
import type { Histogram } from "prom-client";

/** A raw value read from etcd with the revision it was last modified at. */
export interface RawValue {
  key: string;
  value: Buffer;
  modRevision: number;
}

export interface RangeResult {
  kvs: RawValue[];
  /** The etcd revision the range was served at. */
  revision: number;
  more: boolean;
  /** Keys in the whole range (not just this page). */
  count: number;
}

export class CompactedError extends Error {
  constructor(readonly revision: number) {
    super(`required revision ${revision} has been compacted`);
  }
}

const prefixEnd = (prefix: string): Buffer => {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i]! += 1;
      return end;
    }
  }
  return Buffer.from([0]);
};

const toRaw = (kv: IKeyValue): RawValue => ({
  key: kv.key.toString(),
  value: kv.value,
  modRevision: Number(kv.mod_revision),
});

/**
 * The etcd side of storage.Interface: every write is one transaction guarded on the key's
 * mod_revision (create: "absent", update/delete: "unchanged"), so two apiservers on one etcd never
 * overwrite each other's writes. Values are opaque bytes here; the registry owns the encoding.
 */
export class EtcdStore {
  constructor(
    private readonly etcd: Etcd3,
    private readonly latency?: Histogram<"operation">,
  ) {}

  private async timed<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const end = this.latency?.startTimer({ operation });
    try {
      return await fn();
    } finally {
      end?.();
    }
  }

  async get(key: string): Promise<RawValue | undefined> {
    const res = await this.timed("get", () => this.etcd.kv.range({ key: Buffer.from(key) }));
    const kv = res.kvs[0];
    return kv ? toRaw(kv) : undefined;
  }

  /** Writes the key if absent. Returns the new revision, or undefined when the key exists. */
  async create(key: string, value: Buffer): Promise<number | undefined> {
    const k = Buffer.from(key);
    const res = await this.timed("create", () =>
      this.etcd.kv.txn({
        compare: [{ key: k, target: "Mod", result: "Equal", mod_revision: 0 }],
        success: [{ request_put: { key: k, value } }],
        failure: [],
      }),
    );
    return res.succeeded ? Number(res.header.revision) : undefined;
  }

  /**
   * Replaces the key if it was last modified at expectedRevision. Returns the new revision, or
   * undefined when someone else wrote (or deleted) it first.
   */
  async update(key: string, value: Buffer, expectedRevision: number): Promise<number | undefined> {
    const k = Buffer.from(key);
    const res = await this.timed("update", () =>
      this.etcd.kv.txn({
        compare: [{ key: k, target: "Mod", result: "Equal", mod_revision: expectedRevision }],
        success: [{ request_put: { key: k, value } }],
        failure: [],
      }),
    );
    return res.succeeded ? Number(res.header.revision) : undefined;
  }

  /** Deletes the key if it was last modified at expectedRevision; returns the revision or undefined. */
  async delete(key: string, expectedRevision: number): Promise<number | undefined> {
    const k = Buffer.from(key);
    const res = await this.timed("delete", () =>
      this.etcd.kv.txn({
        compare: [{ key: k, target: "Mod", result: "Equal", mod_revision: expectedRevision }],
        success: [{ request_delete_range: { key: k } }],
        failure: [],
      }),
    );
    return res.succeeded ? Number(res.header.revision) : undefined;
  }

  /**
   * One page of keys under prefix, starting at startKey (inclusive), at a fixed revision (0 = now),
   * so every page of a paginated list sees the same snapshot.
   */
  async range(
    prefix: string,
    opts: { startKey?: string; limit?: number; revision?: number },
  ): Promise<RangeResult> {
    try {
      const res = await this.timed("list", () =>
        this.etcd.kv.range({
          key: Buffer.from(opts.startKey ?? prefix),
          range_end: prefixEnd(prefix),
          limit: opts.limit ?? 0,
          revision: opts.revision ?? 0,
        }),
      );
      return {
        kvs: res.kvs.map(toRaw),
        revision: Number(res.header.revision),
        more: res.more,
        count: Number(res.count),
      };
    } catch (err) {
      if (String((err as Error).message).includes("compacted")) throw new CompactedError(opts.revision ?? 0);
      throw err;
    }
  }

  async currentRevision(): Promise<number> {
    const res = await this.etcd.kv.range({ key: Buffer.from("/registry/"), limit: 1, keys_only: true });
    return Number(res.header.revision);
  }

  /** Discards history up to revision (Kubernetes' apiserver does this every 5 minutes). */
  async compact(revision: number): Promise<void> {
    await this.etcd.kv.compact({ revision, physical: false });
  }
}

export { prefixEnd };
