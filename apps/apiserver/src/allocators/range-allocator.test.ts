import { describe, expect, it } from "vitest";
import { ipv4Range, ipv4ToNumber, numberToIpv4 } from "./range-allocator.js";

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
