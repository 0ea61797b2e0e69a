import { createSocket } from "node:dgram";
import { existsSync, readFileSync } from "node:fs";
import { connect, isIP } from "node:net";

/** One upstream nameserver. */
export interface Upstream {
  host: string;
  port: number;
}

/** `10.0.0.2`, `10.0.0.2:5353`, `[fd00::2]:53` → host and port (53 unless given). */
export function parseUpstream(s: string): Upstream {
  const v = s.trim();
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(v);
  let host = v;
  let port = "53";
  if (bracket) {
    host = bracket[1]!;
    port = bracket[2] ?? "53";
  } else if (isIP(v) !== 6 && v.includes(":")) {
    host = v.slice(0, v.lastIndexOf(":"));
    port = v.slice(v.lastIndexOf(":") + 1);
  }
  const n = Number(port);
  if (isIP(host) === 0 || !/^\d+$/.test(port) || n < 1 || n > 65535)
    throw new Error(`--upstream: Invalid value: "${s}": must be an IP address with an optional port`);
  return { host, port: n };
}

/** The `nameserver` lines of a resolv.conf (what CoreDNS' `forward . /etc/resolv.conf` reads). */
export function nameserversOf(resolvConf: string): Upstream[] {
  return resolvConf
    .split("\n")
    .map((l) =>
      l
        .replace(/[#;].*$/, "")
        .trim()
        .split(/\s+/),
    )
    .filter((f) => f[0] === "nameserver" && f[1] && isIP(f[1]) !== 0)
    .map((f) => ({ host: f[1]!, port: 53 }));
}

/**
 * `--upstream`: empty for none (names outside the cluster domain are REFUSED), a resolv.conf path
 * (its nameservers), or a comma-separated list of addresses.
 */
export function resolveUpstreams(flag: string): Upstream[] {
  const v = flag.trim();
  if (v === "") return [];
  const list = v.startsWith("/")
    ? existsSync(v)
      ? nameserversOf(readFileSync(v, "utf8"))
      : []
    : v.split(",").filter(Boolean).map(parseUpstream);
  return list;
}

/**
 * Forwards raw queries to upstream nameservers, one after another until one answers within the
 * timeout (CoreDNS' forward plugin, sequential policy). The query id is rewritten so answers from
 * one upstream socket cannot be confused; the caller's id is put back.
 */
export class Forwarder {
  constructor(
    readonly upstreams: Upstream[],
    private readonly timeoutMs: number,
  ) {}

  /** The upstream's answer (with the caller's id), or undefined when none answered. */
  async forward(query: Buffer, transport: "udp" | "tcp"): Promise<Buffer | undefined> {
    for (const u of this.upstreams) {
      const id = query.readUInt16BE(0);
      const q = Buffer.from(query);
      const upstreamId = Math.floor(Math.random() * 0x10000);
      q.writeUInt16BE(upstreamId, 0);
      let res: Buffer | undefined;
      try {
        res = transport === "udp" ? await this.udp(u, q, upstreamId) : await this.tcp(u, q);
      } catch {
        res = undefined;
      }
      if (!res) continue;
      res.writeUInt16BE(id, 0);
      return res;
    }
    return undefined;
  }

  private udp(u: Upstream, q: Buffer, id: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const sock = createSocket(isIP(u.host) === 6 ? "udp6" : "udp4");
      const done = (v: Buffer | undefined) => {
        clearTimeout(timer);
        sock.close();
        resolve(v);
      };
      const timer = setTimeout(() => done(undefined), this.timeoutMs);
      sock.on("error", () => done(undefined));
      sock.on("message", (msg, rinfo) => {
        // Only the upstream's answer to this query counts (anything else is spoofing or stale).
        if (rinfo.address !== u.host || msg.length < 12 || msg.readUInt16BE(0) !== id) return;
        done(msg);
      });
      sock.send(q, u.port, u.host);
    });
  }

  private tcp(u: Upstream, q: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const sock = connect({ host: u.host, port: u.port });
      let buf = Buffer.alloc(0);
      const done = (v: Buffer | undefined) => {
        clearTimeout(timer);
        sock.destroy();
        resolve(v);
      };
      const timer = setTimeout(() => done(undefined), this.timeoutMs);
      sock.on("error", () => done(undefined));
      sock.on("connect", () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(q.length);
        sock.write(Buffer.concat([len, q]));
      });
      sock.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0))
          done(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      });
      sock.on("end", () => done(undefined));
    });
  }
}
