import { createSocket } from "node:dgram";
import { Resolver } from "node:dns/promises";
import { connect, createServer } from "node:net";
import { silentLogger } from "@tskube/log";
import { decode, encode, type RecordType, streamDecode, streamEncode } from "dns-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DnsHandler } from "./handler.js";
import { DnsServer } from "./server.js";
import { FakeState } from "./testing.js";
import { Forwarder } from "./upstream.js";
import { KubernetesZone } from "./zone.js";

/**
 * A stand-in for the node's upstream nameserver on loopback, over UDP and TCP: example.com has
 * one address, everything else is NXDOMAIN. Counts what it was asked.
 */
async function fakeUpstream() {
  const asked: string[] = [];
  const answer = (raw: Buffer) => {
    const q = decode(raw);
    const name = q.questions![0]!.name;
    asked.push(name);
    const known = name === "example.com";
    return encode({
      type: "response",
      id: q.id,
      flags: (known ? 0 : 3) | (1 << 7),
      questions: q.questions,
      answers: known ? [{ type: "A", name, ttl: 60, data: "192.0.2.10" }] : [],
    });
  };
  const udp = createSocket("udp4");
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
  udp.on("message", (msg, rinfo) => udp.send(answer(msg), rinfo.port, rinfo.address));
  const port = udp.address().port;
  const tcp = createServer((s) =>
    s.on("data", (d) => {
      s.write(streamEncode(decode(answer(d.subarray(2)))));
    }),
  );
  await new Promise<void>((r) => tcp.listen(port, "127.0.0.1", () => r()));
  return {
    port,
    asked,
    close: () => {
      udp.close();
      tcp.close();
    },
  };
}

describe("the DNS server on real sockets", () => {
  const state = new FakeState();
  let server: DnsServer;
  let upstream: Awaited<ReturnType<typeof fakeUpstream>>;
  let resolver: Resolver;

  beforeAll(async () => {
    state.addService("default", "webapp", {
      clusterIp: "10.96.0.20",
      ports: [{ name: "http", port: 80, protocol: "TCP" }],
    });
    state.addService("default", "db", { clusterIp: "None", ports: [{ name: "pg", port: 5432 }] });
    state.addEndpoints("default", "db", [
      {
        addresses: Array.from({ length: 40 }, (_, i) => ({ ip: `10.244.1.${i + 1}` })),
        ports: [{ name: "pg", port: 5432 }],
      },
    ]);
    state.addService("default", "search", { type: "ExternalName", externalName: "example.com" });
    upstream = await fakeUpstream();
    const zone = new KubernetesZone({ domain: "cluster.local", ttl: 30, pods: "insecure", state });
    server = new DnsServer({
      address: "127.0.0.1:0",
      handler: new DnsHandler({
        zone,
        forwarder: new Forwarder([{ host: "127.0.0.1", port: upstream.port }], 2000),
        log: silentLogger,
      }),
      log: silentLogger,
      tcpIdleTimeoutMs: 8000,
    });
    await server.listen();
    resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${server.port}`]);
  });

  afterAll(async () => {
    await server.close();
    upstream.close();
  });

  it("answers node's resolver over UDP: A, SRV, PTR and NXDOMAIN", async () => {
    expect(await resolver.resolve4("webapp.default.svc.cluster.local")).toEqual(["10.96.0.20"]);
    expect(await resolver.resolveSrv("_http._tcp.webapp.default.svc.cluster.local")).toEqual([
      { name: "webapp.default.svc.cluster.local", port: 80, priority: 0, weight: 100 },
    ]);
    expect(await resolver.reverse("10.96.0.20")).toEqual(["webapp.default.svc.cluster.local"]);
    await expect(resolver.resolve4("nothere.default.svc.cluster.local")).rejects.toMatchObject({
      code: "ENOTFOUND",
    });
    // NODATA for AAAA of an IPv4-only service.
    await expect(resolver.resolve6("webapp.default.svc.cluster.local")).rejects.toMatchObject({
      code: "ENODATA",
    });
  });

  it("gives a headless Service's 40 addresses: truncated over UDP, the resolver retries over TCP", async () => {
    // 40 A records (~1,800 bytes) exceed even the EDNS limit of 1232 bytes.
    const udp = createSocket("udp4");
    const tc = await new Promise<boolean>((resolve) => {
      udp.on("message", (m) => resolve(decode(m).flag_tc));
      udp.send(
        encode({ type: "query", id: 5, questions: [{ type: "A", name: "db.default.svc.cluster.local" }] }),
        server.port,
        "127.0.0.1",
      );
    });
    udp.close();
    expect(tc).toBe(true);
    const ips = await resolver.resolve4("db.default.svc.cluster.local");
    expect(ips.sort()).toEqual(Array.from({ length: 40 }, (_, i) => `10.244.1.${i + 1}`).sort());
  });

  it("answers pipelined queries on one TCP connection, each with its length prefix", async () => {
    const sock = connect({ host: "127.0.0.1", port: server.port });
    await new Promise<void>((r) => sock.once("connect", () => r()));
    const q = (id: number, name: string, type: RecordType) =>
      streamEncode({ type: "query", id, questions: [{ type, name, class: "IN" }] });
    sock.write(
      Buffer.concat([
        q(1, "webapp.default.svc.cluster.local", "A"),
        q(2, "search.default.svc.cluster.local", "CNAME"),
      ]),
    );
    let buf = Buffer.alloc(0);
    const answers = await new Promise<ReturnType<typeof streamDecode>[]>((resolve) => {
      sock.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        const out = [];
        let rest = buf;
        while (rest.length >= 2 && rest.length >= 2 + rest.readUInt16BE(0)) {
          out.push(streamDecode(rest));
          rest = rest.subarray(2 + rest.readUInt16BE(0));
        }
        if (out.length === 2) resolve(out);
      });
    });
    sock.destroy();
    expect(answers.map((a) => a.id)).toEqual([1, 2]);
    expect(answers[0]!.answers).toEqual([expect.objectContaining({ type: "A", data: "10.96.0.20" })]);
    expect(answers[1]!.answers).toEqual([expect.objectContaining({ type: "CNAME", data: "example.com" })]);
  });

  it("forwards names outside the cluster domain to the upstream, and completes an ExternalName there", async () => {
    expect(await resolver.resolve4("example.com")).toEqual(["192.0.2.10"]);
    await expect(resolver.resolve4("unknown.example")).rejects.toMatchObject({ code: "ENOTFOUND" });
    const before = upstream.asked.length;
    // The resolver follows CNAME then A from one answer, as glibc's stub resolver needs it.
    expect(await resolver.resolve4("search.default.svc.cluster.local")).toEqual(["192.0.2.10"]);
    expect(upstream.asked.slice(before)).toEqual(["example.com"]);
    // The cluster domain never goes upstream.
    expect(upstream.asked).not.toContain("webapp.default.svc.cluster.local");
  });

  it("forwards over TCP what arrives over TCP", async () => {
    const sock = connect({ host: "127.0.0.1", port: server.port });
    await new Promise<void>((r) => sock.once("connect", () => r()));
    sock.write(
      streamEncode({ type: "query", id: 77, questions: [{ type: "A", name: "example.com", class: "IN" }] }),
    );
    const res = await new Promise<Buffer>((resolve) => sock.once("data", (d) => resolve(d)));
    sock.destroy();
    const d = streamDecode(res);
    expect(d.id).toBe(77);
    expect(d.answers).toEqual([expect.objectContaining({ data: "192.0.2.10" })]);
  });
});
