import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, isIP, type Server, type Socket } from "node:net";
import type { Logger } from "@tskube/log";
import type { DnsHandler } from "./handler.js";

export interface DnsServerOptions {
  /** host:port for both UDP and TCP (port 0 picks one; both then share the UDP one's). */
  address: string;
  handler: DnsHandler;
  log: Logger;
  /** A TCP connection with no query for this long is closed (miekg/dns, CoreDNS' library: 8 s). */
  tcpIdleTimeoutMs: number;
}

export function splitHostPort(address: string): { host: string; port: number } {
  const bracket = /^\[([^\]]+)\]:(\d+)$/.exec(address);
  if (bracket) return { host: bracket[1]!, port: Number(bracket[2]) };
  const i = address.lastIndexOf(":");
  const host = i < 0 ? address : address.slice(0, i);
  const port = i < 0 ? "53" : address.slice(i + 1);
  if (isIP(host) === 0 || !/^\d+$/.test(port) || Number(port) > 65535)
    throw new Error(`--listen-address: Invalid value: "${address}": must be an IP address and a port`);
  return { host, port: Number(port) };
}

/** DNS over UDP and TCP (RFC 1035 §4.2, RFC 7766: TCP messages carry a 2-byte length, pipelined). */
export class DnsServer {
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly conns = new Set<Socket>();
  port = 0;

  constructor(private readonly opts: DnsServerOptions) {}

  async listen(): Promise<void> {
    const { host, port } = splitHostPort(this.opts.address);
    const udp = createSocket({ type: isIP(host) === 6 ? "udp6" : "udp4", reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(port, host, () => {
        udp.off("error", reject);
        resolve();
      });
    });
    udp.on("error", (err) => this.opts.log.error({ err }, "UDP socket error"));
    udp.on("message", (msg, rinfo) => {
      this.opts.handler.handle(msg, "udp").then(
        (res) => {
          if (res) udp.send(res, rinfo.port, rinfo.address);
        },
        (err) => this.opts.log.error({ err }, "query failed"),
      );
    });
    this.udp = udp;
    this.port = udp.address().port;
    const tcp = createServer((sock) => this.serveTcp(sock));
    await new Promise<void>((resolve, reject) => {
      tcp.once("error", reject);
      tcp.listen(this.port, host, () => {
        tcp.off("error", reject);
        resolve();
      });
    });
    this.tcp = tcp;
    this.opts.log.info({ address: `${host}:${this.port}` }, "DNS listening on UDP and TCP");
  }

  private serveTcp(sock: Socket): void {
    this.conns.add(sock);
    sock.setTimeout(this.opts.tcpIdleTimeoutMs, () => sock.destroy());
    sock.on("close", () => this.conns.delete(sock));
    sock.on("error", () => sock.destroy());
    let buf = Buffer.alloc(0);
    // Answers go back in query order; RFC 7766 allows any order, but in order is simplest to read.
    let chain = Promise.resolve();
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        chain = chain.then(async () => {
          const res = await this.opts.handler.handle(Buffer.from(msg), "tcp").catch((err) => {
            this.opts.log.error({ err }, "query failed");
            return undefined;
          });
          if (!res || sock.destroyed) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(res.length);
          sock.write(Buffer.concat([len, res]));
        });
      }
    });
  }

  async close(): Promise<void> {
    this.udp?.close();
    for (const c of this.conns) c.destroy();
    await new Promise<void>((resolve) => (this.tcp ? this.tcp.close(() => resolve()) : resolve()));
  }
}
