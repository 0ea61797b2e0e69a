import { isIPv4 } from "node:net";

/**
 * The addresses --load-balancer-ip-pool hands out: a CIDR (`192.168.240.0/28`) or an inclusive
 * range (`192.168.240.10-192.168.240.20`), IPv4. Addresses are kept as numbers so "the first free
 * one" is a scan over a small integer range rather than string juggling.
 */
export interface IpPool {
  /** The flag's text, for messages. */
  readonly text: string;
  readonly size: number;
  contains(ip: string): boolean;
  /** The i-th address of the pool (0-based). */
  at(i: number): string;
}

const toNumber = (ip: string) => ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
const toIp = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");

function invalid(text: string, why: string): Error {
  return new Error(`--load-balancer-ip-pool: Invalid value: "${text}": ${why}`);
}

/** Parses the flag; an empty value is no pool (the controller then leaves Services `<pending>`). */
export function parseIpPool(flag: string): IpPool | undefined {
  const text = flag.trim();
  if (!text) return undefined;
  let first: number;
  let last: number;
  if (text.includes("/")) {
    const [ip, bits, ...rest] = text.split("/");
    if (rest.length || !ip || !isIPv4(ip) || !/^\d{1,2}$/.test(bits ?? "") || Number(bits) > 32)
      throw invalid(text, "must be an IPv4 CIDR such as 192.168.240.0/28 or a range A-B");
    const prefix = Number(bits);
    const span = 2 ** (32 - prefix);
    const base = toNumber(ip) - (toNumber(ip) % span);
    if (base !== toNumber(ip)) throw invalid(text, `must be the network address of the CIDR (${toIp(base)})`);
    // As a subnet: its network and broadcast addresses are not given out (a /31 or /32 has none).
    first = prefix >= 31 ? base : base + 1;
    last = prefix >= 31 ? base + span - 1 : base + span - 2;
  } else {
    const [a, b, ...rest] = text.split("-").map((s) => s.trim());
    if (rest.length || !a || !b || !isIPv4(a) || !isIPv4(b))
      throw invalid(text, "must be an IPv4 CIDR such as 192.168.240.0/28 or a range A-B");
    first = toNumber(a);
    last = toNumber(b);
    if (last < first) throw invalid(text, "the range's end must not be before its start");
  }
  return {
    text,
    size: last - first + 1,
    contains: (ip) => isIPv4(ip) && toNumber(ip) >= first && toNumber(ip) <= last,
    at: (i) => toIp(first + i),
  };
}
