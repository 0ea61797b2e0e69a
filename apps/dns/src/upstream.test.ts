import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDnsFlags } from "./flags.js";
import { nameserversOf, parseUpstream, resolveUpstreams } from "./upstream.js";

describe("--upstream", () => {
  it("reads addresses with optional ports", () => {
    expect(parseUpstream("10.0.0.2")).toEqual({ host: "10.0.0.2", port: 53 });
    expect(parseUpstream("127.0.0.1:5353")).toEqual({ host: "127.0.0.1", port: 5353 });
    expect(parseUpstream("fd00::2")).toEqual({ host: "fd00::2", port: 53 });
    expect(parseUpstream("[fd00::2]:54")).toEqual({ host: "fd00::2", port: 54 });
    expect(() => parseUpstream("dns.example:53")).toThrow(
      '--upstream: Invalid value: "dns.example:53": must be an IP address with an optional port',
    );
  });

  it("reads the nameservers of a resolv.conf, leaving out comments", () => {
    const conf =
      "# generated\nsearch example.com\nnameserver 10.255.255.53\nnameserver 127.0.0.1 ; me\noptions ndots:5\n";
    expect(nameserversOf(conf)).toEqual([
      { host: "10.255.255.53", port: 53 },
      { host: "127.0.0.1", port: 53 },
    ]);
    const dir = mkdtempSync(join(tmpdir(), "tskube-dns-"));
    writeFileSync(join(dir, "resolv.conf"), conf);
    expect(resolveUpstreams(join(dir, "resolv.conf"))).toEqual([
      { host: "10.255.255.53", port: 53 },
      { host: "127.0.0.1", port: 53 },
    ]);
    expect(resolveUpstreams(join(dir, "missing.conf"))).toEqual([]);
    expect(resolveUpstreams("")).toEqual([]);
    expect(resolveUpstreams("127.0.0.1:5300,10.0.0.1")).toEqual([
      { host: "127.0.0.1", port: 5300 },
      { host: "10.0.0.1", port: 53 },
    ]);
  });
});

describe("dns flags", () => {
  const base = {
    "cluster-domain": "cluster.local",
    ttl: "30s",
    pods: "insecure",
    "upstream-timeout": "2s",
    "tcp-idle-timeout": "8s",
  };

  it("parses the defaults", () => {
    expect(parseDnsFlags(base)).toEqual({
      clusterDomain: "cluster.local",
      ttlSeconds: 30,
      pods: "insecure",
      upstreamTimeoutMs: 2000,
      tcpIdleTimeoutMs: 8000,
    });
    expect(parseDnsFlags({ ...base, "cluster-domain": "cluster.local." }).clusterDomain).toBe(
      "cluster.local",
    );
  });

  it("rejects bad values with the flag and the value", () => {
    expect(() => parseDnsFlags({ ...base, ttl: "3601s" })).toThrow(
      '--ttl: Invalid value: "3601s": must be whole seconds between 0s and 3600s',
    );
    expect(() => parseDnsFlags({ ...base, ttl: "soon" })).toThrow('--ttl: Invalid value: "soon"');
    expect(() => parseDnsFlags({ ...base, pods: "verified" })).toThrow(
      '--pods: Unsupported value: "verified": supported values: "disabled", "insecure"',
    );
    expect(() => parseDnsFlags({ ...base, "cluster-domain": "bad_domain" })).toThrow(
      '--cluster-domain: Invalid value: "bad_domain"',
    );
    expect(() => parseDnsFlags({ ...base, "upstream-timeout": "0s" })).toThrow(
      '--upstream-timeout: Invalid value: "0s": must be greater than 0s',
    );
  });
});
