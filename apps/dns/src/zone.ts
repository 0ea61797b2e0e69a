import { isIPv4, isIPv6 } from "node:net";
import type { EndpointAddress, Endpoints, Service } from "@tskube/api";
import type { Answer, SoaAnswer } from "dns-packet";

/** What the zone reads: the informers' caches (services, endpoints, namespaces). */
export interface ClusterState {
  service(namespace: string, name: string): Service | undefined;
  endpoints(namespace: string, name: string): Endpoints | undefined;
  namespaceExists(namespace: string): boolean;
  /** Services whose clusterIPs include ip (for PTR). */
  servicesByIp(ip: string): Service[];
  /** Endpoints with a ready address ip (for PTR). */
  endpointsByIp(ip: string): Endpoints[];
  /** Every informer has listed once. */
  synced(): boolean;
  /** The SOA serial: when the cache last changed (Unix seconds), as CoreDNS reports it. */
  serial(): number;
}

/** CoreDNS' `pods` option: A records for `1-2-3-4.ns.pod.<zone>` without (insecure) or never (disabled). */
export type PodMode = "disabled" | "insecure";

export interface ZoneOptions {
  /** The cluster domain, without the trailing dot (cluster.local). */
  domain: string;
  /** TTL of every answer, seconds. */
  ttl: number;
  pods: PodMode;
  state: ClusterState;
}

export type Rcode = "NOERROR" | "SERVFAIL" | "NXDOMAIN" | "REFUSED" | "FORMERR" | "NOTIMP";

export interface Reply {
  rcode: Rcode;
  authoritative: boolean;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

/** One name the cluster publishes (CoreDNS' msg.Service): an address or an alias, with a port. */
interface Rec {
  /** An IP, or the alias of an ExternalName service. */
  host: string;
  /** -1 when the record has no port (a headless service's endpoints without ports). */
  port: number;
  /** The record's own name, the SRV target (`svc.ns.svc.zone`, `endpoint.svc.ns.svc.zone`). */
  name: string;
}

/** Kubernetes' DNS specification version (`dns-version.<zone>` TXT), as CoreDNS answers it. */
const DNS_SCHEMA_VERSION = "1.1.0";

const trimDot = (s: string) => s.replace(/\.$/, "");
const eq = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** Kubernetes' headless marker: clusterIP "None". */
export const isHeadless = (svc: Service) => svc.spec?.clusterIp === "None";

/**
 * The name of an endpoint under its service, as CoreDNS picks it: the endpoint's hostname, else its
 * IP with dashes (10.0.0.5 → 10-0-0-5).
 */
export function endpointHostname(addr: EndpointAddress): string {
  if (addr.hostname) return addr.hostname;
  return addr.ip.replaceAll(".", "-").replaceAll(":", "-");
}

/** `5.0.0.10.in-addr.arpa` → 10.0.0.5; undefined for anything else. */
export function reverseToIp(name: string): string | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\.in-addr\.arpa$/i.exec(trimDot(name));
  if (!m) return undefined;
  const ip = [m[4], m[3], m[2], m[1]].join(".");
  return isIPv4(ip) ? ip : undefined;
}

/**
 * The cluster domain as CoreDNS' kubernetes plugin serves it (Kubernetes' DNS-based service
 * discovery specification):
 * - `svc.ns.svc.<zone>` A/AAAA: the ClusterIPs; headless (clusterIP None): every ready endpoint
 *   address; ExternalName: a CNAME to the external name;
 * - `endpoint.svc.ns.svc.<zone>`: one endpoint by hostname (or dashed IP);
 * - `_port._proto.svc.ns.svc.<zone>` SRV (and SRV on the service name for every port), with the
 *   targets' addresses in the additional section;
 * - `1-2-3-4.ns.pod.<zone>` A with `pods insecure`; `dns-version.<zone>` TXT;
 * - PTR for ClusterIPs and endpoint addresses;
 * - NXDOMAIN for names that do not exist and NODATA (NOERROR, no answers) for names that exist
 *   without records of the asked type, both with the zone's SOA in the authority section.
 */
export class KubernetesZone {
  readonly domain: string;

  constructor(private readonly opts: ZoneOptions) {
    this.domain = trimDot(opts.domain).toLowerCase();
  }

  /** True for names this zone answers (the cluster domain and its subdomains). */
  contains(name: string): boolean {
    const n = trimDot(name).toLowerCase();
    return n === this.domain || n.endsWith(`.${this.domain}`);
  }

  soa(): SoaAnswer {
    const ttl = this.opts.ttl;
    return {
      type: "SOA",
      name: this.domain,
      // CoreDNS caps the SOA's own TTL at 300 s and uses the zone TTL as the negative-caching TTL.
      ttl: Math.min(ttl, 300),
      class: "IN",
      data: {
        mname: `ns.dns.${this.domain}`,
        rname: `hostmaster.${this.domain}`,
        serial: this.opts.state.serial(),
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: ttl,
      },
    };
  }

  /** The answer to one question (type as dns-packet names it: "A", "SRV", "UNKNOWN_65", …). */
  resolve(qname: string, qtype: string): Reply {
    if (!this.opts.state.synced()) return this.reply("SERVFAIL", []);
    const name = trimDot(qname);
    const base = name.toLowerCase() === this.domain ? "" : name.slice(0, -(this.domain.length + 1));
    const segs = base === "" ? [] : base.split(".");
    if (segs.length === 0) return this.apex(name, qtype);
    if (segs.length === 1 && eq(segs[0]!, "dns-version")) {
      if (qtype !== "TXT") return this.reply("NOERROR", []);
      return this.reply("NOERROR", [{ type: "TXT", name, ttl: this.opts.ttl, data: DNS_SCHEMA_VERSION }]);
    }
    const found = this.records(segs);
    if (found === undefined) return this.reply("NXDOMAIN", []);
    return this.answer(name, qtype, found);
  }

  /** PTR for a reverse name; undefined when no Service or endpoint has that address. */
  resolveReverse(qname: string, qtype: string): Reply | undefined {
    const ip = reverseToIp(qname);
    if (!ip || !this.opts.state.synced()) return undefined;
    const names: string[] = [];
    for (const svc of this.opts.state.servicesByIp(ip))
      names.push(`${svc.metadata!.name}.${svc.metadata!.namespace}.svc.${this.domain}`);
    if (names.length === 0) {
      for (const ep of this.opts.state.endpointsByIp(ip))
        for (const sub of ep.subsets)
          for (const a of sub.addresses)
            if (a.ip === ip)
              names.push(
                `${endpointHostname(a)}.${ep.metadata!.name}.${ep.metadata!.namespace}.svc.${this.domain}`,
              );
    }
    if (names.length === 0) return undefined;
    const name = trimDot(qname);
    // NODATA without an SOA: the cluster domain's would be the wrong zone for a reverse name.
    if (qtype !== "PTR") return { ...this.reply("NOERROR", []), authorities: [] };
    return this.reply(
      "NOERROR",
      [...new Set(names)].map((data) => ({ type: "PTR", name, ttl: this.opts.ttl, class: "IN", data })),
    );
  }

  private apex(name: string, qtype: string): Reply {
    if (qtype === "SOA") return this.reply("NOERROR", [{ ...this.soa(), name }]);
    if (qtype === "NS")
      return this.reply("NOERROR", [
        { type: "NS", name, ttl: this.opts.ttl, class: "IN", data: `ns.dns.${this.domain}` },
      ]);
    return this.reply("NOERROR", []);
  }

  /**
   * The records a name below the zone has, as CoreDNS' parseRequest and findServices/findPods
   * read it: an empty list is a name that exists without records (NODATA), undefined one that does
   * not exist (NXDOMAIN).
   */
  private records(segs: string[]): Rec[] | undefined {
    const s = segs.map((x) => x.toLowerCase());
    let last = s.length - 1;
    const kind = s[last];
    if (kind !== "svc" && kind !== "pod") return undefined;
    if (--last < 0) return [];
    const namespace = s[last]!;
    if (!this.opts.state.namespaceExists(namespace)) return undefined;
    if (--last < 0) return [];
    const service = s[last]!;
    let endpoint = "";
    let port = "";
    let protocol = "";
    if (--last >= 0) {
      if (last === 0) endpoint = s[0]!;
      else if (last === 1) {
        protocol = s[1]!.replace(/^_/, "");
        port = s[0]!.replace(/^_/, "");
      } else return undefined;
    }
    if (kind === "pod") return this.podRecords(namespace, service, last >= 0);
    return this.serviceRecords(namespace, service, endpoint, port, protocol);
  }

  private podRecords(namespace: string, dashed: string, tooLong: boolean): Rec[] | undefined {
    if (this.opts.pods === "disabled" || tooLong) return undefined;
    const ip =
      dashed.split("-").length === 4 && !dashed.includes("--")
        ? dashed.replaceAll("-", ".")
        : dashed.replaceAll("-", ":");
    if (!isIPv4(ip) && !isIPv6(ip)) return undefined;
    return [{ host: ip, port: -1, name: `${dashed}.${namespace}.pod.${this.domain}` }];
  }

  private serviceRecords(
    namespace: string,
    name: string,
    endpoint: string,
    port: string,
    protocol: string,
  ): Rec[] | undefined {
    const svc = this.opts.state.service(namespace, name);
    if (!svc) return undefined;
    const spec = svc.spec;
    const svcName = `${svc.metadata!.name}.${namespace}.svc.${this.domain}`;
    const matches = (pName: string, pProto: string) =>
      (port === "" || eq(port, pName)) && (protocol === "" || eq(protocol, pProto || "TCP"));
    if (spec?.type === "ExternalName") {
      // An ExternalName service has no endpoints; an IP there is not an alias (CoreDNS skips it).
      if (endpoint || !spec.externalName || isIPv4(spec.externalName) || isIPv6(spec.externalName))
        return undefined;
      return [{ host: trimDot(spec.externalName), port: -1, name: svcName }];
    }
    if (isHeadless(svc) || endpoint) {
      const out: Rec[] = [];
      for (const sub of this.opts.state.endpoints(namespace, name)?.subsets ?? []) {
        // Only ready addresses: the endpoints controller already counts not-ready ones as ready
        // for services with publishNotReadyAddresses.
        for (const addr of sub.addresses) {
          const host = endpointHostname(addr);
          if (endpoint && !eq(endpoint, host)) continue;
          const rec = { host: addr.ip, name: `${host}.${svcName}` };
          // A subset without ports still names its addresses (CoreDNS' sentinel port).
          if (sub.ports.length === 0 && port === "" && protocol === "") out.push({ ...rec, port: -1 });
          for (const p of sub.ports) if (matches(p.name, p.protocol)) out.push({ ...rec, port: p.port });
        }
      }
      return out.length > 0 ? out : undefined;
    }
    const ips = spec?.clusterIps.length ? spec.clusterIps : spec?.clusterIp ? [spec.clusterIp] : [];
    const ports = (spec?.ports ?? []).filter((p) => matches(p.name, p.protocol));
    if (ports.length === 0) return undefined;
    return ports.flatMap((p) => ips.map((ip) => ({ host: ip, port: p.port, name: svcName })));
  }

  private answer(name: string, qtype: string, recs: Rec[]): Reply {
    const ttl = this.opts.ttl;
    const answers: Answer[] = [];
    const additionals: Answer[] = [];
    const seen = new Set<string>();
    const once = (k: string) => !seen.has(k) && seen.add(k) !== undefined;
    for (const r of recs) {
      const alias = !isIPv4(r.host) && !isIPv6(r.host);
      switch (qtype) {
        case "A":
        case "AAAA":
          if (alias) {
            if (once(`cname:${r.host}`))
              answers.push({ type: "CNAME", name, ttl, class: "IN", data: r.host });
          } else if ((qtype === "A" ? isIPv4 : isIPv6)(r.host) && once(r.host)) {
            answers.push({ type: qtype, name, ttl, class: "IN", data: r.host });
          }
          break;
        case "CNAME":
          if (alias && once(r.host)) answers.push({ type: "CNAME", name, ttl, class: "IN", data: r.host });
          break;
        case "SRV": {
          if (r.port < 0 || alias) break;
          if (!once(`${r.name}:${r.port}`)) break;
          answers.push({
            type: "SRV",
            name,
            ttl,
            class: "IN",
            data: { priority: 0, weight: 0, port: r.port, target: r.name },
          });
          if (once(`addr:${r.name}:${r.host}`))
            additionals.push({
              type: isIPv4(r.host) ? "A" : "AAAA",
              name: r.name,
              ttl,
              class: "IN",
              data: r.host,
            });
          break;
        }
      }
    }
    // CoreDNS' weights: the records of one priority share 100.
    const weight = Math.max(1, Math.floor(100 / Math.max(1, answers.length)));
    for (const a of answers) if (a.type === "SRV") a.data.weight = weight;
    const reply = this.reply("NOERROR", answers);
    reply.additionals = additionals;
    return reply;
  }

  /** A reply with the SOA in the authority section when there is no answer (RFC 2308). */
  reply(rcode: Rcode, answers: Answer[]): Reply {
    const negative = answers.length === 0 && (rcode === "NOERROR" || rcode === "NXDOMAIN");
    return {
      rcode,
      authoritative: rcode !== "SERVFAIL",
      answers,
      authorities: negative ? [this.soa()] : [],
      additionals: [],
    };
  }
}
