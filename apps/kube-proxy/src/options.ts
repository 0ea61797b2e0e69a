import { spawnSync } from "node:child_process";
import { isValidCIDR, isValidIP, parseDuration } from "@tskube/machinery";

export type ProxyMode = "iptables" | "userspace";

/** A flag's value as Kubernetes prints it in an Invalid error. */
const printed = (v: string) => JSON.stringify(v);

/** --proxy-mode: "iptables", "userspace", or "" to detect (iptables when root and it works). */
export function parseProxyMode(
  v: string,
  detect: () => string | undefined = iptablesProblem,
): {
  mode: ProxyMode;
  reason: string;
} {
  if (v === "iptables" || v === "userspace") return { mode: v, reason: "--proxy-mode" };
  if (v !== "")
    throw new Error(
      `proxy-mode: Unsupported value: ${printed(v)}: supported values: "iptables", "userspace"`,
    );
  const problem = detect();
  return problem
    ? { mode: "userspace", reason: `iptables mode unavailable: ${problem}` }
    : { mode: "iptables", reason: "running as root with a working iptables" };
}

/** Why iptables mode cannot work here, or undefined when it can. */
export function iptablesProblem(): string | undefined {
  if (process.getuid?.() !== 0) return "not running as root";
  for (const [cmd, args] of [
    ["iptables", ["-w", "5", "-t", "nat", "-S", "POSTROUTING"]],
    ["iptables-restore", ["--version"]],
  ] as const) {
    const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"], timeout: 10_000 });
    if (r.error) return `${cmd}: ${r.error.message}`;
    if (r.status !== 0)
      return `${cmd} ${args.join(" ")}: ${r.stderr.toString().trim() || `exit ${r.status}`}`;
  }
  return undefined;
}

/** --nodeport-addresses: comma-separated CIDRs; empty means every local address. */
export function parseCidrList(field: string, v: string): string[] {
  if (v === "") return [];
  return v.split(",").map((c, i) => {
    const cidr = c.trim();
    const errs = isValidCIDR(cidr);
    if (errs.length) throw new Error(`${field}[${i}]: Invalid value: ${printed(cidr)}: ${errs[0]}`);
    return cidr;
  });
}

export function parseCidr(field: string, v: string): string {
  if (v === "") return "";
  const errs = isValidCIDR(v);
  if (errs.length) throw new Error(`${field}: Invalid value: ${printed(v)}: ${errs[0]}`);
  return v;
}

export function parseIp(field: string, v: string): string {
  const errs = isValidIP(v);
  if (errs.length) throw new Error(`${field}: Invalid value: ${printed(v)}: ${errs[0]}`);
  return v;
}

export function parseBool(field: string, v: string): boolean {
  if (v === "true") return true;
  if (v === "false") return false;
  throw new Error(`${field}: Invalid value: ${printed(v)}: must be true or false`);
}

/** A duration flag, with min <= max checked by the caller's wording. */
export function parseDurationFlag(field: string, v: string): number {
  try {
    return parseDuration(v);
  } catch {
    throw new Error(`${field}: Invalid value: ${printed(v)}: must be a duration such as 1s, 500ms or 1m30s`);
  }
}

/**
 * The addresses userspace NodePort listeners bind: a /32 (or /128) CIDR names one address, which
 * works for loopback addresses that no interface lists; wider CIDRs select the node's interface
 * addresses inside them; no CIDRs means --bind-address (0.0.0.0: every address).
 */
export function nodePortListenAddresses(
  cidrs: string[],
  bindAddress: string,
  interfaceAddresses: string[],
): string[] {
  if (cidrs.length === 0) return [bindAddress];
  const out = new Set<string>();
  for (const cidr of cidrs) {
    const [ip, bits] = cidr.split("/") as [string, string];
    if ((ip.includes(":") && bits === "128") || (!ip.includes(":") && bits === "32")) out.add(ip);
    else for (const a of interfaceAddresses) if (inCidr(a, cidr)) out.add(a);
  }
  return [...out];
}

/** IPv4 containment; IPv6 CIDRs other than /128 match nothing here. */
export function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split("/") as [string, string];
  if (ip.includes(":") || base.includes(":")) return false;
  const bits = Number(bitsText);
  const toInt = (a: string) => a.split(".").reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (toInt(ip) & mask) >>> 0 === (toInt(base) & mask) >>> 0;
}
