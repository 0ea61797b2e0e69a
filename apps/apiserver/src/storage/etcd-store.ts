import type { LeanHistogram } from "../metrics.js";
import { isEtcdError } from "./etcd-errors.js";
import type { EtcdKv, GuardedWrite, KeyValue } from "./etcd-kv.js";
import { LeaseManager } from "./lease-manager.js";

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

/**
 * A guarded write's outcome: the new revision, or (revision undefined) the key as the same
 * transaction found it, undefined when the key is gone.
 */
export type WriteOutcome =
  | { revision: number; current?: undefined }
  | { revision: undefined; current: RawValue | undefined };

export interface WriteOptions {
  /** The key expires this long after the write (an etcd lease; Events and --event-ttl). */
  ttlSeconds?: number | undefined;
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

const toRaw = (kv: KeyValue): RawValue => ({
  key: kv.key.toString(),
  value: kv.value,
  modRevision: kv.modRevision,
});

/**
 * The etcd side of storage.Interface: every write is one transaction guarded on the key's
 * mod_revision (create: "absent", update/delete: "unchanged"), so two apiservers on one etcd never
 * overwrite each other's writes. Values are opaque bytes here; the registry owns the encoding.
 */
export class EtcdStore {
  private readonly leases: LeaseManager;

  constructor(
    private readonly kv: EtcdKv,
    private readonly latency?: LeanHistogram<"operation">,
  ) {
    this.leases = new LeaseManager((ttl) => kv.leaseGrant(ttl));
  }

  private async timed<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const end = this.latency?.startTimer({ operation });
    try {
      return await fn();
    } finally {
      end?.();
    }
  }

  async get(key: string): Promise<RawValue | undefined> {
    const res = await this.timed("get", () => this.kv.range({ key: Buffer.from(key) }));
    const kv = res.kvs[0];
    return kv ? toRaw(kv) : undefined;
  }

  /** Writes the key if absent. Returns the new revision, or undefined when the key exists. */
  async create(key: string, value: Buffer, opts: WriteOptions = {}): Promise<number | undefined> {
    const lease = opts.ttlSeconds ? await this.leases.getLease(opts.ttlSeconds) : undefined;
    const res = await this.guarded("create", { key: Buffer.from(key), modRevision: 0, put: value, lease });
    return res.revision;
  }

  /**
   * Replaces the key if it was last modified at expectedRevision. Returns the new revision, or
   * undefined when someone else wrote (or deleted) it first.
   */
  async update(key: string, value: Buffer, expectedRevision: number): Promise<number | undefined> {
    return (await this.updateOrRead(key, value, expectedRevision)).revision;
  }

  /**
   * update, and when the compare fails, the key as it is now, read by the same transaction
   * (Kubernetes' etcd3 GuaranteedUpdate): a retry needs no second round trip.
   */
  async updateOrRead(
    key: string,
    value: Buffer,
    expectedRevision: number,
    opts: WriteOptions = {},
  ): Promise<WriteOutcome> {
    const lease = opts.ttlSeconds ? await this.leases.getLease(opts.ttlSeconds) : undefined;
    return this.guarded("update", {
      key: Buffer.from(key),
      modRevision: expectedRevision,
      put: value,
      lease,
      readOnFailure: true,
    });
  }

  /** Deletes the key if it was last modified at expectedRevision; returns the revision or undefined. */
  async delete(key: string, expectedRevision: number): Promise<number | undefined> {
    return (await this.deleteOrRead(key, expectedRevision)).revision;
  }

  /** delete, and when the compare fails, the key as it is now (see updateOrRead). */
  deleteOrRead(key: string, expectedRevision: number): Promise<WriteOutcome> {
    return this.guarded("delete", {
      key: Buffer.from(key),
      modRevision: expectedRevision,
      readOnFailure: true,
    });
  }

  private async guarded(operation: string, write: GuardedWrite): Promise<WriteOutcome> {
    const res = await this.timed(operation, () => this.kv.txn(write));
    if (res.succeeded) return { revision: res.revision };
    return { revision: undefined, current: res.current ? toRaw(res.current) : undefined };
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
        this.kv.range({
          key: Buffer.from(opts.startKey ?? prefix),
          rangeEnd: prefixEnd(prefix),
          limit: opts.limit ?? 0,
          revision: opts.revision ?? 0,
        }),
      );
      return { kvs: res.kvs.map(toRaw), revision: res.revision, more: res.more, count: res.count };
    } catch (err) {
      if (isEtcdError(err, "compacted")) throw new CompactedError(opts.revision ?? 0);
      throw err;
    }
  }

  async currentRevision(): Promise<number> {
    const res = await this.kv.range({ key: Buffer.from("/registry/"), limit: 1, keysOnly: true });
    return res.revision;
  }

  /**
   * Discards history up to revision (Kubernetes' apiserver does this every 5 minutes). A revision
   * already compacted (by another apiserver) is not an error.
   */
  async compact(revision: number): Promise<void> {
    try {
      await this.kv.compact(revision);
    } catch (err) {
      if (!isEtcdError(err, "compacted")) throw err;
    }
  }
}

export { prefixEnd };
