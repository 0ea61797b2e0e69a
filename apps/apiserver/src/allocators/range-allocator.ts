import { randomInt } from "node:crypto";
import type { EtcdStore } from "../storage/etcd-store.js";

/** Who holds an allocation: the object's identity, and when it was reserved (for repair). */
export interface Owner {
  namespace: string;
  name: string;
  uid: string;
  /** Milliseconds since the epoch when the reservation was made. */
  at: number;
}

/** Random picks tried before falling back to a scan of what is taken. */
const RANDOM_TRIES = 8;

/**
 * A range of values (service IPs, node ports) handed out at most once across every apiserver:
 * each allocation is its own etcd key under `prefix`, created only if absent, so two apiservers
 * racing for one value cannot both get it, and a restart forgets nothing. Kubernetes keeps a bitmap
 * in one key instead; a key per value makes every allocation and release a single small
 * transaction and needs no read-modify-write of a shared blob.
 */
export class RangeAllocator {
  constructor(
    private readonly store: EtcdStore,
    /** Key prefix, ending in "/". */
    readonly prefix: string,
    /** Lowest and highest value handed out (inclusive). */
    readonly first: number,
    readonly last: number,
    /** Value → key suffix and back (an IP's dotted form, a port's digits). */
    private readonly format: (v: number) => string,
    private readonly parse: (s: string) => number | undefined,
    /**
     * Values at the bottom of the range that automatic allocation leaves alone until the rest is
     * full, so a value asked for by name (a Service's chosen clusterIP or nodePort) is rarely taken
     * already: Kubernetes' static/dynamic split (KEP-3070, KEP-3668).
     */
    readonly staticBand = 0,
  ) {}

  /** Kubernetes' static band for service IPs: size/16, at least 16, at most 256. */
  static ipStaticBand(size: number): number {
    return Math.min(Math.max(16, Math.floor(size / 16)), 256, size);
  }

  /** Kubernetes' static band for node ports: size/32, at least 16, at most 128. */
  static portStaticBand(size: number): number {
    return Math.min(Math.max(16, Math.floor(size / 32)), 128, size);
  }

  get size(): number {
    return this.last - this.first + 1;
  }

  contains(v: number): boolean {
    return Number.isInteger(v) && v >= this.first && v <= this.last;
  }

  private key(v: number): string {
    return `${this.prefix}${this.format(v)}`;
  }

  /** Takes v for owner; false when someone holds it already. */
  async reserve(v: number, owner: Owner): Promise<boolean> {
    return (await this.store.create(this.key(v), Buffer.from(JSON.stringify(owner)))) !== undefined;
  }

  /**
   * Any free value, or undefined when the range is full: from the dynamic band (above the static
   * band) first, the static band only once the dynamic one is full.
   */
  async allocate(owner: Owner): Promise<number | undefined> {
    const band = this.staticBand < this.size ? this.staticBand : 0;
    const dynamic = this.size - band;
    for (let i = 0; i < RANDOM_TRIES; i++) {
      const v = this.first + band + randomInt(dynamic);
      if (await this.reserve(v, owner)) return v;
    }
    // Crowded: look at what is taken and try the free values from a random place onwards.
    const taken = await this.allocated();
    for (const [from, size] of [
      [this.first + band, dynamic],
      [this.first, band],
    ] as const) {
      const start = size ? randomInt(size) : 0;
      for (let i = 0; i < size; i++) {
        const v = from + ((start + i) % size);
        if (!taken.has(v) && (await this.reserve(v, owner))) return v;
      }
    }
    return undefined;
  }

  /** Frees v if uid still holds it (a value already reused by someone else is left alone). */
  async release(v: number, uid: string): Promise<void> {
    const raw = await this.store.get(this.key(v));
    if (!raw) return;
    const holder = parseOwner(raw.value);
    if (holder && holder.uid !== uid) return;
    await this.store.delete(this.key(v), raw.modRevision);
  }

  /** Every allocation with its owner, read in pages. */
  async allocated(): Promise<Map<number, Owner | undefined>> {
    const out = new Map<number, Owner | undefined>();
    let startKey: string | undefined;
    let revision = 0;
    for (;;) {
      const page = await this.store.range(this.prefix, { startKey, limit: 1000, revision });
      revision = page.revision;
      for (const kv of page.kvs) {
        const v = this.parse(kv.key.slice(this.prefix.length));
        if (v !== undefined) out.set(v, parseOwner(kv.value));
      }
      if (!page.more || page.kvs.length === 0) break;
      startKey = `${page.kvs[page.kvs.length - 1]!.key}\0`;
    }
    return out;
  }
}

function parseOwner(value: Buffer): Owner | undefined {
  try {
    const o = JSON.parse(value.toString()) as Owner;
    return typeof o.uid === "string" ? o : undefined;
  } catch {
    return undefined;
  }
}

/** IPv4 dotted quad ↔ 32-bit number. */
export function ipv4ToNumber(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export const numberToIpv4 = (n: number): string =>
  [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");

/** The usable addresses of an IPv4 CIDR: without the network and broadcast addresses, as Kubernetes. */
export function ipv4Range(cidr: string): { first: number; last: number } {
  const [ip, bits] = cidr.split("/");
  const base = ipv4ToNumber(ip ?? "");
  const prefix = Number(bits);
  if (base === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 30)
    throw new Error(
      `invalid IPv4 CIDR ${JSON.stringify(cidr)} (IPv4 with a prefix of at most /30 is supported)`,
    );
  const size = 2 ** (32 - prefix);
  const network = base - (base % size);
  return { first: network + 1, last: network + size - 2 };
}
