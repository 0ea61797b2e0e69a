import { silentLogger } from "@tskube/log";
import {
  type Answer,
  type DecodedPacket,
  decode,
  encode,
  RECURSION_DESIRED,
  type RecordType,
} from "dns-packet";
import { beforeEach, describe, expect, it } from "vitest";
import { DnsHandler, rcodeName, rcodeOf, type Transport } from "./handler.js";
import { FakeState } from "./testing.js";
import { Forwarder } from "./upstream.js";
import { KubernetesZone, type PodMode } from "./zone.js";

let state: FakeState;
let handler: DnsHandler;

function makeHandler(opts: { pods?: PodMode; forwarder?: Forwarder } = {}) {
  const zone = new KubernetesZone({ domain: "cluster.local", ttl: 30, pods: opts.pods ?? "insecure", state });
  handler = new DnsHandler({ zone, forwarder: opts.forwarder, log: silentLogger });
}

let nextId = 1;
async function ask(
  name: string,
  type: string,
  transport: Transport = "udp",
  extra: { edns?: number } = {},
): Promise<DecodedPacket & { rcode: string }> {
  const id = nextId++;
  const q = encode({
    type: "query",
    id,
    flags: RECURSION_DESIRED,
    questions: [{ type: type as RecordType, name, class: "IN" }],
    additionals:
      extra.edns !== undefined
        ? [
            {
              type: "OPT",
              name: ".",
              udpPayloadSize: extra.edns,
              extendedRcode: 0,
              ednsVersion: 0,
              flags: 0,
              flag_do: false,
              options: [],
            },
          ]
        : [],
  });
  const res = await handler.handle(q, transport);
  expect(res).toBeDefined();
  const d = decode(res!);
  expect(d.id).toBe(id);
  expect(d.type).toBe("response");
  return Object.assign(d, { rcode: rcodeName(rcodeOf(d)) });
}

const data = (answers: Answer[] | undefined) =>
  (answers ?? []).map((a) => ("data" in a ? a.data : undefined));

beforeEach(() => {
  state = new FakeState();
  state.addService("default", "webapp", {
    clusterIp: "10.96.0.20",
    clusterIps: ["10.96.0.20"],
    ports: [
      { name: "http", port: 80, protocol: "TCP" },
      { name: "dns", port: 53, protocol: "UDP" },
    ],
  });
  state.addService("default", "db", {
    clusterIp: "None",
    ports: [{ name: "pg", port: 5432, protocol: "TCP" }],
  });
  state.addEndpoints("default", "db", [
    {
      addresses: [{ ip: "10.244.1.5", hostname: "db-0" }, { ip: "10.244.2.6" }],
      notReadyAddresses: [{ ip: "10.244.3.7", hostname: "db-2" }],
      ports: [{ name: "pg", port: 5432, protocol: "TCP" }],
    },
  ]);
  state.addService("default", "search", { type: "ExternalName", externalName: "search.example.com" });
  state.addService("default", "alias", {
    type: "ExternalName",
    externalName: "webapp.default.svc.cluster.local",
  });
  makeHandler();
});

describe("the cluster domain (CoreDNS' kubernetes plugin)", () => {
  it("answers a Service's ClusterIP for svc.ns.svc.cluster.local, authoritative, with the TTL", async () => {
    const r = await ask("webapp.default.svc.cluster.local", "A");
    expect(r.rcode).toBe("NOERROR");
    expect(r.flag_aa).toBe(true);
    expect(r.flag_rd).toBe(true);
    expect(r.answers).toEqual([
      expect.objectContaining({
        type: "A",
        name: "webapp.default.svc.cluster.local",
        ttl: 30,
        data: "10.96.0.20",
      }),
    ]);
    expect(r.authorities).toEqual([]);
  });

  it("matches names case-insensitively and keeps the asked case in the answer", async () => {
    const r = await ask("WebApp.Default.SVC.cluster.local", "A");
    expect(data(r.answers)).toEqual(["10.96.0.20"]);
    expect(r.answers![0]!.name).toBe("WebApp.Default.SVC.cluster.local");
  });

  it("answers a headless Service with its ready endpoint addresses only", async () => {
    const r = await ask("db.default.svc.cluster.local", "A");
    expect(r.rcode).toBe("NOERROR");
    expect(data(r.answers).sort()).toEqual(["10.244.1.5", "10.244.2.6"]);
  });

  it("names headless endpoints by hostname, else by dashed IP; not-ready ones do not exist", async () => {
    expect(data((await ask("db-0.db.default.svc.cluster.local", "A")).answers)).toEqual(["10.244.1.5"]);
    expect(data((await ask("10-244-2-6.db.default.svc.cluster.local", "A")).answers)).toEqual(["10.244.2.6"]);
    expect((await ask("db-2.db.default.svc.cluster.local", "A")).rcode).toBe("NXDOMAIN");
  });

  it("is NXDOMAIN for a headless Service without ready endpoints, as CoreDNS", async () => {
    state.addService("default", "empty", { clusterIp: "None", ports: [{ name: "x", port: 1 }] });
    expect((await ask("empty.default.svc.cluster.local", "A")).rcode).toBe("NXDOMAIN");
  });

  it("answers a headless endpoint subset without ports by address", async () => {
    state.addService("default", "noports", { clusterIp: "None" });
    state.addEndpoints("default", "noports", [{ addresses: [{ ip: "10.244.1.9" }] }]);
    expect(data((await ask("noports.default.svc.cluster.local", "A")).answers)).toEqual(["10.244.1.9"]);
  });

  it("answers an ExternalName Service with a CNAME to the external name", async () => {
    const r = await ask("search.default.svc.cluster.local", "A");
    expect(r.rcode).toBe("NOERROR");
    expect(r.answers).toEqual([
      expect.objectContaining({
        type: "CNAME",
        name: "search.default.svc.cluster.local",
        data: "search.example.com",
      }),
    ]);
    const c = await ask("search.default.svc.cluster.local", "CNAME");
    expect(data(c.answers)).toEqual(["search.example.com"]);
  });

  it("completes a CNAME whose target is inside the cluster domain", async () => {
    const r = await ask("alias.default.svc.cluster.local", "A");
    expect(r.answers!.map((a) => a.type)).toEqual(["CNAME", "A"]);
    expect(data(r.answers)).toEqual(["webapp.default.svc.cluster.local", "10.96.0.20"]);
  });

  it("answers SRV for a named port with the service as target and its address as additional", async () => {
    const r = await ask("_http._tcp.webapp.default.svc.cluster.local", "SRV");
    expect(r.answers).toEqual([
      expect.objectContaining({
        type: "SRV",
        data: { priority: 0, weight: 100, port: 80, target: "webapp.default.svc.cluster.local" },
      }),
    ]);
    expect(r.additionals).toEqual([
      expect.objectContaining({ type: "A", name: "webapp.default.svc.cluster.local", data: "10.96.0.20" }),
    ]);
    const udp = await ask("_dns._udp.webapp.default.svc.cluster.local", "SRV");
    expect(data(udp.answers)).toEqual([expect.objectContaining({ port: 53 })]);
    expect((await ask("_http._udp.webapp.default.svc.cluster.local", "SRV")).rcode).toBe("NXDOMAIN");
  });

  it("answers SRV on a headless Service with one target per endpoint, sharing the weight", async () => {
    const r = await ask("_pg._tcp.db.default.svc.cluster.local", "SRV");
    const targets = (r.answers ?? []).map((a) => (a.type === "SRV" ? a.data : undefined));
    expect(targets).toEqual(
      expect.arrayContaining([
        { priority: 0, weight: 50, port: 5432, target: "db-0.db.default.svc.cluster.local" },
        { priority: 0, weight: 50, port: 5432, target: "10-244-2-6.db.default.svc.cluster.local" },
      ]),
    );
    expect(r.additionals!.map((a) => a.name).sort()).toEqual([
      "10-244-2-6.db.default.svc.cluster.local",
      "db-0.db.default.svc.cluster.local",
    ]);
  });

  it("answers SRV on the service name itself with every port", async () => {
    const r = await ask("webapp.default.svc.cluster.local", "SRV");
    expect(
      data(r.answers)
        .map((d) => (d as { port: number }).port)
        .sort(),
    ).toEqual([53, 80]);
  });

  it("is NXDOMAIN for unknown names, with the zone's SOA in the authority section", async () => {
    const r = await ask("nothere.default.svc.cluster.local", "A");
    expect(r.rcode).toBe("NXDOMAIN");
    expect(r.flag_aa).toBe(true);
    expect(r.answers).toEqual([]);
    expect(r.authorities).toEqual([
      expect.objectContaining({
        type: "SOA",
        name: "cluster.local",
        ttl: 30,
        data: expect.objectContaining({
          mname: "ns.dns.cluster.local",
          rname: "hostmaster.cluster.local",
          serial: 1_700_000_000,
          refresh: 7200,
          retry: 1800,
          expire: 86400,
          minimum: 30,
        }),
      }),
    ]);
    for (const n of [
      "webapp.nons.svc.cluster.local",
      "nons.svc.cluster.local",
      "webapp.default.cluster.local",
      "a.b.c.webapp.default.svc.cluster.local",
      "x.search.default.svc.cluster.local",
    ])
      expect((await ask(n, "A")).rcode, n).toBe("NXDOMAIN");
  });

  it("answers AAAA for an IPv4-only Service with NODATA: NOERROR, no answers, the SOA", async () => {
    const r = await ask("webapp.default.svc.cluster.local", "AAAA");
    expect(r.rcode).toBe("NOERROR");
    expect(r.answers).toEqual([]);
    expect(r.authorities!.map((a) => a.type)).toEqual(["SOA"]);
    expect((await ask("webapp.default.svc.cluster.local", "TXT")).rcode).toBe("NOERROR");
  });

  it("answers names that exist without records (zone, svc, a namespace) with NODATA", async () => {
    for (const n of [
      "cluster.local",
      "svc.cluster.local",
      "default.svc.cluster.local",
      "pod.cluster.local",
    ]) {
      const r = await ask(n, "A");
      expect(r.rcode, n).toBe("NOERROR");
      expect(r.answers, n).toEqual([]);
    }
    const soa = await ask("cluster.local", "SOA");
    expect(soa.answers!.map((a) => a.type)).toEqual(["SOA"]);
    const ns = await ask("cluster.local", "NS");
    expect(data(ns.answers)).toEqual(["ns.dns.cluster.local"]);
    const version = await ask("dns-version.cluster.local", "TXT");
    expect(data(version.answers)).toEqual([[Buffer.from("1.1.0")]]);
  });

  it("answers pod names with `pods insecure` and not with `pods disabled`", async () => {
    expect(data((await ask("10-244-1-5.default.pod.cluster.local", "A")).answers)).toEqual(["10.244.1.5"]);
    expect((await ask("10-244-1-5.nons.pod.cluster.local", "A")).rcode).toBe("NXDOMAIN");
    expect((await ask("not-an-ip.default.pod.cluster.local", "A")).rcode).toBe("NXDOMAIN");
    makeHandler({ pods: "disabled" });
    expect((await ask("10-244-1-5.default.pod.cluster.local", "A")).rcode).toBe("NXDOMAIN");
  });

  it("answers PTR for ClusterIPs and endpoint addresses", async () => {
    const svc = await ask("20.0.96.10.in-addr.arpa", "PTR");
    expect(svc.rcode).toBe("NOERROR");
    expect(data(svc.answers)).toEqual(["webapp.default.svc.cluster.local"]);
    const ep = await ask("5.1.244.10.in-addr.arpa", "PTR");
    expect(data(ep.answers)).toEqual(["db-0.db.default.svc.cluster.local"]);
    const a = await ask("20.0.96.10.in-addr.arpa", "A");
    expect([a.rcode, a.answers, a.authorities]).toEqual(["NOERROR", [], []]);
  });

  it("answers SERVFAIL for the cluster domain until the informers have synced", async () => {
    state.isSynced = false;
    expect((await ask("webapp.default.svc.cluster.local", "A")).rcode).toBe("SERVFAIL");
  });

  it("follows changes of the cache at once (a Service added, then removed)", async () => {
    expect((await ask("late.default.svc.cluster.local", "A")).rcode).toBe("NXDOMAIN");
    state.addService("default", "late", { clusterIp: "10.96.0.99", ports: [{ port: 80 }] });
    expect(data((await ask("late.default.svc.cluster.local", "A")).answers)).toEqual(["10.96.0.99"]);
    state.services = state.services.filter((s) => s.metadata!.name !== "late");
    expect((await ask("late.default.svc.cluster.local", "A")).rcode).toBe("NXDOMAIN");
  });
});

describe("outside the cluster domain and malformed queries", () => {
  it("refuses names outside the cluster domain when there is no upstream", async () => {
    const r = await ask("example.com", "A");
    expect(r.rcode).toBe("REFUSED");
    expect(r.flag_ra).toBe(false);
    // A reverse name of an address the cluster does not know is outside too.
    expect((await ask("1.0.0.127.in-addr.arpa", "PTR")).rcode).toBe("REFUSED");
  });

  it("answers SERVFAIL when no upstream answers in time", async () => {
    // Port 9 on loopback (discard) has no DNS server: the forward times out.
    makeHandler({ forwarder: new Forwarder([{ host: "127.0.0.1", port: 9 }], 50) });
    const r = await ask("example.com", "A");
    expect(r.rcode).toBe("SERVFAIL");
    expect(r.flag_ra).toBe(true);
  });

  it("answers FORMERR to a message that does not decode and to two questions", async () => {
    const garbage = Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x05, 0x61]);
    const r = decode((await handler.handle(garbage, "udp"))!);
    expect(r.id).toBe(0x1234);
    expect(rcodeName(rcodeOf(r))).toBe("FORMERR");
    const two = encode({
      type: "query",
      id: 7,
      questions: [
        { type: "A", name: "a.cluster.local" },
        { type: "A", name: "b.cluster.local" },
      ],
    });
    expect(rcodeName(rcodeOf(decode((await handler.handle(two, "udp"))!)))).toBe("FORMERR");
    expect(await handler.handle(Buffer.from([1, 2, 3]), "udp")).toBeUndefined();
  });

  it("answers NOTIMP to opcodes other than QUERY", async () => {
    const q = encode({
      type: "query",
      id: 9,
      flags: 5 << 11,
      questions: [{ type: "A", name: "x.cluster.local" }],
    });
    expect(rcodeName(rcodeOf(decode((await handler.handle(q, "udp"))!)))).toBe("NOTIMP");
  });
});

describe("message size", () => {
  beforeEach(() => {
    state.addService("default", "big", { clusterIp: "None", ports: [{ name: "p", port: 1 }] });
    state.addEndpoints("default", "big", [
      {
        addresses: Array.from({ length: 20 }, (_, i) => ({ ip: `10.244.9.${i + 1}` })),
        ports: [{ name: "p", port: 1 }],
      },
    ]);
  });

  it("truncates a UDP answer over 512 bytes (TC, no answers) and sends it whole over TCP", async () => {
    const udp = await ask("big.default.svc.cluster.local", "A", "udp");
    expect(udp.flag_tc).toBe(true);
    expect(udp.answers).toEqual([]);
    const tcp = await ask("big.default.svc.cluster.local", "A", "tcp");
    expect(tcp.flag_tc).toBe(false);
    expect(tcp.answers).toHaveLength(20);
  });

  it("answers EDNS with EDNS and uses the client's larger UDP size up to 1232 bytes", async () => {
    const r = await ask("big.default.svc.cluster.local", "A", "udp", { edns: 4096 });
    expect(r.flag_tc).toBe(false);
    expect(r.answers).toHaveLength(20);
    expect(r.additionals).toEqual([expect.objectContaining({ type: "OPT", udpPayloadSize: 1232 })]);
  });
});
