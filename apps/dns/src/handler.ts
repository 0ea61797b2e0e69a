import type { Logger } from "@tskube/log";
import {
  type Answer,
  AUTHORITATIVE_ANSWER,
  type DecodedPacket,
  decode,
  encode,
  encodingLength,
  type OptAnswer,
  type Packet,
  RECURSION_AVAILABLE,
  RECURSION_DESIRED,
  type RecordType,
  type StringAnswer,
  TRUNCATED_RESPONSE,
} from "dns-packet";
import type { Forwarder } from "./upstream.js";
import type { KubernetesZone, Rcode, Reply } from "./zone.js";

const RCODES: Record<Rcode, number> = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
};

/** A reply over UDP without EDNS fits 512 bytes (RFC 1035); EDNS raises it to what the client offers. */
const UDP_MIN = 512;
/** The largest UDP answer sent whatever the client offers (the DNS flag day's 1232 avoids fragments). */
const UDP_MAX = 1232;

export interface HandlerMetrics {
  requests: { inc(labels: { proto: string; type: string }): void };
  responses: { inc(labels: { rcode: string; source: string }): void };
}

export interface HandlerOptions {
  zone: KubernetesZone;
  /** Names outside the cluster domain go here; without upstreams they are REFUSED. */
  forwarder?: Forwarder | undefined;
  log: Logger;
  metrics?: HandlerMetrics;
}

export type Transport = "udp" | "tcp";

export const rcodeOf = (p: { flags?: number | undefined }) => (p.flags ?? 0) & 0xf;

/**
 * One DNS message in, one out (bytes to bytes, so tests need no sockets): the cluster domain and
 * the reverse names of cluster addresses from the zone, everything else forwarded to the
 * upstreams or REFUSED when there are none. Malformed queries get FORMERR, other opcodes NOTIMP.
 */
export class DnsHandler {
  constructor(private readonly opts: HandlerOptions) {}

  private get recursion(): boolean {
    return (this.opts.forwarder?.upstreams.length ?? 0) > 0;
  }

  async handle(raw: Buffer, transport: Transport): Promise<Buffer | undefined> {
    // Not even a header: nothing to answer to.
    if (raw.length < 12) return undefined;
    let query: DecodedPacket;
    try {
      query = decode(raw);
    } catch {
      return this.bare(raw.readUInt16BE(0), "FORMERR", raw.readUInt16BE(2) & RECURSION_DESIRED);
    }
    if (query.type === "response") return undefined;
    const rd = (query.flags ?? 0) & RECURSION_DESIRED;
    // The opcode: bits 11–14 of the flags; only QUERY (0) is served.
    if (((query.flags ?? 0) >> 11) & 0xf) return this.bare(query.id ?? 0, "NOTIMP", rd);
    const q = query.questions?.[0];
    if (!q || query.questions!.length !== 1) return this.bare(query.id ?? 0, "FORMERR", rd);
    this.opts.metrics?.requests.inc({ proto: transport, type: q.type });
    const { zone } = this.opts;
    let reply: Reply | undefined;
    if (zone.contains(q.name)) {
      reply = zone.resolve(q.name, q.type);
      await this.chase(reply, q.type);
    } else {
      reply = zone.resolveReverse(q.name, q.type);
    }
    if (!reply) {
      if (!this.recursion) return this.encode(query, zone.reply("REFUSED", []), transport, "refused");
      const res = await this.opts.forwarder!.forward(raw, transport);
      if (res) {
        this.opts.metrics?.responses.inc({ rcode: rcodeName(res.readUInt16BE(2) & 0xf), source: "forward" });
        return res;
      }
      this.opts.log.warn({ name: q.name, type: q.type }, "no upstream answered");
      return this.encode(
        query,
        { ...zone.reply("SERVFAIL", []), authoritative: false },
        transport,
        "forward",
      );
    }
    return this.encode(query, reply, transport, "cluster");
  }

  /**
   * An ExternalName's CNAME, completed as CoreDNS completes it: a target inside the zone from the
   * zone, one outside from the upstreams (stub resolvers such as glibc's do not chase a CNAME
   * alone). Without an answer the CNAME stands by itself and the client may chase it.
   */
  private async chase(reply: Reply, qtype: string): Promise<void> {
    if (qtype !== "A" && qtype !== "AAAA") return;
    const cname = reply.answers.find((a): a is StringAnswer => a.type === "CNAME");
    if (!cname || reply.answers.length !== 1) return;
    const target = cname.data;
    const { zone, forwarder } = this.opts;
    if (zone.contains(target)) {
      const r = zone.resolve(target, qtype);
      reply.answers.push(...r.answers.filter((a) => a.type !== "CNAME"));
      return;
    }
    if (!this.recursion) return;
    const q = encode({
      type: "query",
      id: 0,
      flags: RECURSION_DESIRED,
      questions: [{ type: qtype as RecordType, name: target, class: "IN" }],
    });
    const res = await forwarder!.forward(q, "udp");
    if (!res) return;
    try {
      const decoded = decode(res);
      if (rcodeOf(decoded) === 0) reply.answers.push(...(decoded.answers ?? []));
    } catch {
      // An upstream answer that does not decode leaves the CNAME alone.
    }
  }

  private bare(id: number, rcode: Rcode, rd: number): Buffer {
    this.opts.metrics?.responses.inc({ rcode, source: "error" });
    return encode({
      type: "response",
      id,
      flags: rd | RCODES[rcode],
      questions: [],
      answers: [],
      authorities: [],
      additionals: [],
    });
  }

  private encode(query: DecodedPacket, reply: Reply, transport: Transport, source: string): Buffer {
    const opt = query.additionals?.find((a): a is OptAnswer => a.type === "OPT");
    const flags =
      ((query.flags ?? 0) & RECURSION_DESIRED) |
      (reply.authoritative ? AUTHORITATIVE_ANSWER : 0) |
      (this.recursion ? RECURSION_AVAILABLE : 0) |
      RCODES[reply.rcode];
    const additionals: Answer[] = [...reply.additionals];
    // EDNS is answered with EDNS (RFC 6891), offering what this server sends at most.
    if (opt)
      additionals.push({
        type: "OPT",
        name: ".",
        udpPayloadSize: UDP_MAX,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      });
    const packet: Packet = {
      type: "response",
      id: query.id ?? 0,
      flags,
      questions: query.questions ?? [],
      answers: reply.answers,
      authorities: reply.authorities,
      additionals,
    };
    this.opts.metrics?.responses.inc({ rcode: reply.rcode, source });
    if (transport === "udp") {
      const limit = opt ? Math.min(Math.max(opt.udpPayloadSize, UDP_MIN), UDP_MAX) : UDP_MIN;
      // Too big for the datagram: the header and question with TC set, so the client asks over TCP.
      if (encodingLength(packet) > limit)
        return encode({
          ...packet,
          flags: flags | TRUNCATED_RESPONSE,
          answers: [],
          authorities: [],
          additionals: additionals.filter((a) => a.type === "OPT"),
        });
    }
    return encode(packet);
  }
}

export function rcodeName(code: number): string {
  return (Object.entries(RCODES).find(([, v]) => v === code)?.[0] as string | undefined) ?? `RCODE_${code}`;
}
