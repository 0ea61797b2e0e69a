import { isDNS1123Subdomain, parseDuration } from "@tskube/machinery";
import type { PodMode } from "./zone.js";

export interface DnsFlags {
  clusterDomain: string;
  ttlSeconds: number;
  pods: PodMode;
  upstreamTimeoutMs: number;
  tcpIdleTimeoutMs: number;
}

const POD_MODES: PodMode[] = ["disabled", "insecure"];

function duration(name: string, v: string): number {
  try {
    return parseDuration(v);
  } catch {
    throw new Error(`--${name}: Invalid value: "${v}": must be a duration such as 30s`);
  }
}

/** The dns flags that are not plain strings, checked and worded as Kubernetes words bad values. */
export function parseDnsFlags(flags: Record<string, string>): DnsFlags {
  const domain = (flags["cluster-domain"] ?? "").replace(/\.$/, "");
  const domainErrs = isDNS1123Subdomain(domain);
  if (domainErrs.length)
    throw new Error(
      `--cluster-domain: Invalid value: "${flags["cluster-domain"]}": ${domainErrs.join("; ")}`,
    );
  const ttlMs = duration("ttl", flags.ttl ?? "");
  // CoreDNS: "The minimum TTL allowed is 0 seconds, and the maximum is capped at 3600 seconds."
  if (ttlMs < 0 || ttlMs > 3_600_000 || ttlMs % 1000 !== 0)
    throw new Error(`--ttl: Invalid value: "${flags.ttl}": must be whole seconds between 0s and 3600s`);
  const pods = flags.pods as PodMode;
  if (!POD_MODES.includes(pods))
    throw new Error(
      `--pods: Unsupported value: "${flags.pods}": supported values: ${POD_MODES.map((m) => `"${m}"`).join(", ")}`,
    );
  const upstreamTimeoutMs = duration("upstream-timeout", flags["upstream-timeout"] ?? "");
  const tcpIdleTimeoutMs = duration("tcp-idle-timeout", flags["tcp-idle-timeout"] ?? "");
  for (const [name, v] of [
    ["upstream-timeout", upstreamTimeoutMs],
    ["tcp-idle-timeout", tcpIdleTimeoutMs],
  ] as const)
    if (v <= 0) throw new Error(`--${name}: Invalid value: "${flags[name]}": must be greater than 0s`);
  return { clusterDomain: domain, ttlSeconds: ttlMs / 1000, pods, upstreamTimeoutMs, tcpIdleTimeoutMs };
}
