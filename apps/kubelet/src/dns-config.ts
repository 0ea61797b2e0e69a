import { existsSync, readFileSync } from "node:fs";
import type { Pod } from "@tskube/api";

/** CRI's DNSConfig: what the runtime writes as the pod's resolv.conf. */
export interface DnsConfig {
  servers: string[];
  searches: string[];
  /** `name` or `name:value`, as resolv.conf's options line takes them. */
  options: string[];
}

export interface DnsConfigurerOptions {
  /** --cluster-dns: the cluster DNS server addresses (empty: ClusterFirst falls back to Default). */
  clusterDns: string[];
  /** --cluster-domain (cluster.local). */
  clusterDomain: string;
  /** --resolv-conf: the host resolver configuration the Default policy copies (/etc/resolv.conf). */
  resolvConf: string;
}

/** Kubernetes' limits (pkg/kubelet/network/dns): glibc reads 3 nameservers; search paths as apis/core/validation. */
export const MAX_NAMESERVERS = 3;
export const MAX_SEARCH_PATHS = 32;
export const MAX_SEARCH_CHARS = 2048;
/** ClusterFirst's options: a name with fewer than 5 dots tries the search list first. */
const CLUSTER_OPTIONS = ["ndots:5"];

/** The nameserver, search and options lines of a resolv.conf (later search/domain lines win, as in glibc). */
export function parseResolvConf(text: string): DnsConfig {
  const out: DnsConfig = { servers: [], searches: [], options: [] };
  for (const raw of text.split("\n")) {
    const f = raw
      .replace(/[#;].*$/, "")
      .trim()
      .split(/\s+/);
    if (f[0] === "nameserver" && f[1]) out.servers.push(f[1]);
    else if (f[0] === "search" || f[0] === "domain") out.searches = f.slice(1).filter(Boolean);
    else if (f[0] === "options") out.options.push(...f.slice(1).filter(Boolean));
  }
  return out;
}

export function formatResolvConf(c: DnsConfig): string {
  const lines = c.servers.map((s) => `nameserver ${s}`);
  if (c.searches.length) lines.push(`search ${c.searches.join(" ")}`);
  if (c.options.length) lines.push(`options ${c.options.join(" ")}`);
  return `${lines.join("\n")}\n`;
}

const dedupe = (xs: string[]) => [...new Set(xs)];

/** Options by name, later ones replacing earlier ones of the same name (Kubernetes' mergeDNSOptions). */
function mergeOptions(base: string[], extra: string[]): string[] {
  const byName = new Map<string, string>();
  for (const o of [...base, ...extra]) byName.set(o.split(":")[0]!, o);
  return [...byName.values()];
}

/** What the kubelet uses for a pod: the policy in force and, when ClusterFirst cannot be had, why. */
export interface PodDns {
  config: DnsConfig;
  policy: "ClusterFirst" | "Default" | "None";
  /** Set when a ClusterFirst pod fell back to Default (Kubernetes' MissingClusterDNS event). */
  warning?: string;
}

/**
 * Kubernetes' GetPodDNS (pkg/kubelet/network/dns): the pod's dnsPolicy picks the base —
 * ClusterFirst (ClusterFirstWithHostNet for host-network pods): the cluster DNS with the search
 * list `<ns>.svc.<domain> svc.<domain> <domain>` plus the host's, and ndots:5; Default: the host's
 * resolv.conf; None: nothing — then spec.dnsConfig's nameservers, searches and options are added,
 * and the lists are cut to resolver limits.
 */
export class DnsConfigurer {
  constructor(private readonly opts: DnsConfigurerOptions) {}

  private host(): DnsConfig {
    const f = this.opts.resolvConf;
    if (!f || !existsSync(f)) return { servers: [], searches: [], options: [] };
    return parseResolvConf(readFileSync(f, "utf8"));
  }

  forPod(pod: Pod): PodDns {
    const spec = pod.spec;
    let policy = spec?.dnsPolicy || "ClusterFirst";
    // A host-network pod resolves as its node does unless it asks for ClusterFirstWithHostNet.
    if (policy === "ClusterFirst" && spec?.hostNetwork) policy = "Default";
    if (policy === "ClusterFirstWithHostNet") policy = "ClusterFirst";
    let warning: string | undefined;
    if (policy === "ClusterFirst" && this.opts.clusterDns.length === 0) {
      warning =
        'kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.';
      policy = "Default";
    }
    const host = this.host();
    let config: DnsConfig;
    if (policy === "ClusterFirst") {
      const domain = this.opts.clusterDomain.replace(/\.$/, "");
      const ns = pod.metadata!.namespace || "default";
      config = {
        servers: [...this.opts.clusterDns],
        searches: [`${ns}.svc.${domain}`, `svc.${domain}`, domain, ...host.searches],
        options: [...CLUSTER_OPTIONS],
      };
    } else if (policy === "None") {
      config = { servers: [], searches: [], options: [] };
    } else {
      config = host;
    }
    const extra = spec?.dnsConfig;
    if (extra) {
      config.servers.push(...extra.nameservers);
      config.searches.push(...extra.searches);
      config.options = mergeOptions(
        config.options,
        extra.options.map((o) => (o.value !== undefined && o.value !== "" ? `${o.name}:${o.value}` : o.name)),
      );
    }
    config.servers = dedupe(config.servers).slice(0, MAX_NAMESERVERS);
    config.searches = limitSearches(dedupe(config.searches.map((s) => s.replace(/\.$/, ""))));
    return {
      config,
      policy: policy as PodDns["policy"],
      ...(warning ? { warning } : {}),
    };
  }
}

/**
 * What the sandbox is created with: undefined when the pod resolves as its node does (Default
 * without spec.dnsConfig), so a runtime keeps its own default (Docker's resolver for its network,
 * the host's /etc/resolv.conf for the process runtime) instead of a copy of the kubelet's file.
 */
export function sandboxDnsConfig(dns: PodDns, pod: Pod): DnsConfig | undefined {
  return dns.policy === "Default" && !pod.spec?.dnsConfig ? undefined : dns.config;
}

/** The search list cut to 32 paths and 2048 characters, keeping the first (most specific) ones. */
function limitSearches(searches: string[]): string[] {
  const out: string[] = [];
  let chars = 0;
  for (const s of searches.slice(0, MAX_SEARCH_PATHS)) {
    chars += s.length + (out.length ? 1 : 0);
    if (chars > MAX_SEARCH_CHARS) break;
    out.push(s);
  }
  return out;
}
