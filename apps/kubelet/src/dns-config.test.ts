import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pod } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { DnsConfigurer, formatResolvConf, parseResolvConf, sandboxDnsConfig } from "./dns-config.js";

const dir = mkdtempSync(join(tmpdir(), "tskube-dns-config-"));
const hostConf = join(dir, "resolv.conf");
writeFileSync(
  hostConf,
  "# host\nnameserver 10.255.255.53\nsearch corp.example\noptions timeout:2 attempts:3\n",
);

const pod = (spec: Record<string, unknown> = {}, ns = "team") =>
  Pod.fromPartial({ metadata: { name: "p", namespace: ns }, spec: { dnsPolicy: "ClusterFirst", ...spec } });
const dns = (clusterDns = ["10.96.0.10"]) =>
  new DnsConfigurer({ clusterDns, clusterDomain: "cluster.local", resolvConf: hostConf });

describe("pod DNS (Kubernetes' GetPodDNS)", () => {
  it("ClusterFirst: the cluster DNS, the namespace's search list then the host's, ndots:5", () => {
    const d = dns().forPod(pod());
    expect(d.policy).toBe("ClusterFirst");
    expect(d.config).toEqual({
      servers: ["10.96.0.10"],
      searches: ["team.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"],
      options: ["ndots:5"],
    });
    expect(formatResolvConf(d.config)).toBe(
      "nameserver 10.96.0.10\nsearch team.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n",
    );
  });

  it("ClusterFirst without --cluster-dns falls back to Default with Kubernetes' warning", () => {
    const d = dns([]).forPod(pod());
    expect(d.policy).toBe("Default");
    expect(d.warning).toContain(
      'cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.',
    );
    expect(d.config.servers).toEqual(["10.255.255.53"]);
    // Default without dnsConfig: the runtime's own resolver, not a copy.
    expect(sandboxDnsConfig(d, pod())).toBeUndefined();
  });

  it("host-network pods resolve as the node unless ClusterFirstWithHostNet", () => {
    expect(dns().forPod(pod({ hostNetwork: true })).policy).toBe("Default");
    expect(dns().forPod(pod({ hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" })).policy).toBe(
      "ClusterFirst",
    );
  });

  it("Default copies the host's resolv.conf; None takes only spec.dnsConfig", () => {
    expect(dns().forPod(pod({ dnsPolicy: "Default" })).config).toEqual(
      parseResolvConf("nameserver 10.255.255.53\nsearch corp.example\noptions timeout:2 attempts:3\n"),
    );
    const none = dns().forPod(
      pod({
        dnsPolicy: "None",
        dnsConfig: {
          nameservers: ["1.2.3.4"],
          searches: ["ns1.example"],
          options: [{ name: "ndots", value: "2" }, { name: "edns0" }],
        },
      }),
    );
    expect(none.config).toEqual({
      servers: ["1.2.3.4"],
      searches: ["ns1.example"],
      options: ["ndots:2", "edns0"],
    });
  });

  it("adds spec.dnsConfig to ClusterFirst: servers and searches appended, options by name", () => {
    const d = dns().forPod(
      pod({
        dnsConfig: {
          nameservers: ["10.96.0.10", "1.1.1.1", "8.8.8.8", "9.9.9.9"],
          searches: ["extra.example"],
          options: [{ name: "ndots", value: "1" }],
        },
      }),
    );
    // Three nameservers at most (glibc); duplicates once.
    expect(d.config.servers).toEqual(["10.96.0.10", "1.1.1.1", "8.8.8.8"]);
    expect(d.config.searches.at(-1)).toBe("extra.example");
    expect(d.config.options).toEqual(["ndots:1"]);
  });

  it("keeps the search list within 32 paths", () => {
    const d = dns().forPod(
      pod({ dnsConfig: { searches: Array.from({ length: 40 }, (_, i) => `s${i}.example`) } }),
    );
    expect(d.config.searches).toHaveLength(32);
    expect(d.config.searches[0]).toBe("team.svc.cluster.local");
  });
});
