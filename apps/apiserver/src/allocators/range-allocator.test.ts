import { describe, expect, it } from "vitest";
import type { EtcdStore } from "../storage/etcd-store.js";
import { ipv4Range, ipv4ToNumber, numberToIpv4, RangeAllocator } from "./range-allocator.js";

/** The three calls RangeAllocator makes, on a map. */
function memoryStore(): EtcdStore {
  const kv = new Map<string, Buffer>();
  let rev = 1;
  return {
    async create(key: string, value: Buffer) {
      if (kv.has(key)) return undefined;
      kv.set(key, value);
      return ++rev;
    },
    async range(prefix: string) {
      const kvs = [...kv]
        .filter(([k]) => k.startsWith(prefix))
        .map(([key, value]) => ({ key, value, modRevision: rev }));
      return { kvs, more: false, revision: rev };
    },
  } as unknown as EtcdStore;
}

describe("IPv4 ranges for service addresses", () => {
  it("leaves out the network and broadcast addresses", () => {
    const r = ipv4Range("10.96.0.0/12");
    expect(numberToIpv4(r.first)).toBe("10.96.0.1");
    expect(numberToIpv4(r.last)).toBe("10.111.255.254");
    const small = ipv4Range("10.0.0.5/29");
    expect([numberToIpv4(small.first), numberToIpv4(small.last)]).toEqual(["10.0.0.1", "10.0.0.6"]);
  });

  it("round-trips addresses and refuses what is not IPv4", () => {
    expect(numberToIpv4(ipv4ToNumber("192.168.255.7")!)).toBe("192.168.255.7");
    for (const bad of ["10.0.0", "10.0.0.256", "a.b.c.d", "fd00::1"])
      expect(ipv4ToNumber(bad)).toBeUndefined();
    expect(() => ipv4Range("fd00::/108")).toThrow(/invalid IPv4 CIDR/);
    expect(() => ipv4Range("10.0.0.0/31")).toThrow(/at most \/30/);
  });
});

describe("RangeAllocator's static band", () => {
  const owner = { namespace: "default", name: "s", uid: "u", at: 0 };

  it("is Kubernetes' size: IPs size/16 in [16, 256], node ports size/32 in [16, 128]", () => {
    expect(RangeAllocator.ipStaticBand(2 ** 20 - 2)).toBe(256);
    expect(RangeAllocator.ipStaticBand(254)).toBe(16);
    expect(RangeAllocator.ipStaticBand(6)).toBe(6);
    expect(RangeAllocator.portStaticBand(2768)).toBe(86);
    expect(RangeAllocator.portStaticBand(100_000)).toBe(128);
  });

  it("hands out dynamic values above the band, and the band only once the rest is full", async () => {
    const r = new RangeAllocator(memoryStore(), "/r/", 1000, 1099, String, Number, 16);
    const got: number[] = [];
    for (let i = 0; i < 84; i++) got.push((await r.allocate(owner))!);
    expect(new Set(got).size).toBe(84);
    expect(got.every((v) => v >= 1016 && v <= 1099)).toBe(true);
    const next = await r.allocate(owner);
    expect(next).toBeGreaterThanOrEqual(1000);
    expect(next).toBeLessThan(1016);
    for (let i = 0; i < 15; i++) expect(await r.allocate(owner)).toBeLessThan(1016);
    expect(await r.allocate(owner)).toBeUndefined();
  });
});
