import { describe, expect, it } from "vitest";
import { serviceLocalChainName, servicePortChainName, servicePortEndpointChainName } from "../hash.js";
import type { Endpoint, ServicePortInfo } from "../service-port.js";
import { type RuleOptions, renderRules } from "./rules.js";

const OPTS: RuleOptions = {
  nodeName: "node-1",
  clusterCidr: "10.244.0.0/16",
  masqueradeAll: false,
  nodePortAddresses: [],
};

function port(name: string, over: Partial<ServicePortInfo>): ServicePortInfo {
  const [ns, rest] = name.split("/") as [string, string];
  const [svc, portName = ""] = rest.split(":");
  return {
    name,
    namespace: ns,
    serviceName: svc!,
    portName,
    protocol: "TCP",
    clusterIp: "10.96.0.10",
    port: 80,
    nodePort: 0,
    externalIps: [],
    loadBalancerIps: [],
    affinitySeconds: 0,
    externalLocal: false,
    endpoints: [],
    ...over,
  };
}
const ep = (ip: string, port: number, ready = true, nodeName = "node-1"): Endpoint => ({
  ip,
  port,
  ready,
  nodeName,
});

// The lines every sync writes whatever the services (Kubernetes' fixed part of the layout).
const NAT_HEAD = [
  ":KUBE-SERVICES - [0:0]",
  ":KUBE-NODEPORTS - [0:0]",
  ":KUBE-POSTROUTING - [0:0]",
  ":KUBE-MARK-MASQ - [0:0]",
];
const NAT_FIXED = [
  "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
  "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
  '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
  "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
];
const NODEPORTS_LAST =
  '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS';
const FILTER_HEAD = [":KUBE-SERVICES - [0:0]", ":KUBE-EXTERNAL-SERVICES - [0:0]"];

describe("renderRules", () => {
  it("balances a NodePort service over its ready endpoints only, 1/3, 1/2, rest", () => {
    const name = "default/web:http";
    const svc = servicePortChainName(name, "tcp");
    const eps = [ep("10.244.1.2", 8080), ep("10.244.1.3", 8080), ep("10.244.2.2", 8080, true, "node-2")];
    const sep = eps.map((e) => servicePortEndpointChainName(name, "tcp", `${e.ip}:${e.port}`));
    const { text } = renderRules(
      [port(name, { nodePort: 30080, endpoints: [...eps, ep("10.244.1.9", 8080, false)] })],
      OPTS,
    );
    const expected = [
      "*filter",
      ...FILTER_HEAD,
      "COMMIT",
      "*nat",
      ...NAT_HEAD,
      `:${svc} - [0:0]`,
      ...sep.map((s) => `:${s} - [0:0]`),
      ...NAT_FIXED,
      `-A KUBE-SERVICES -m comment --comment "${name} cluster IP" -m tcp -p tcp -d 10.96.0.10/32 --dport 80 -j ${svc}`,
      `-A ${svc} -m comment --comment "${name} cluster IP" -m tcp -p tcp -d 10.96.0.10/32 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ`,
      `-A ${svc} -m comment --comment "${name} -> 10.244.1.2:8080" -m statistic --mode random --probability 0.3333333333 -j ${sep[0]}`,
      `-A ${svc} -m comment --comment "${name} -> 10.244.1.3:8080" -m statistic --mode random --probability 0.5000000000 -j ${sep[1]}`,
      `-A ${svc} -m comment --comment "${name} -> 10.244.2.2:8080" -j ${sep[2]}`,
      ...eps.flatMap((e, i) => [
        `-A ${sep[i]} -m comment --comment ${name} -s ${e.ip}/32 -j KUBE-MARK-MASQ`,
        `-A ${sep[i]} -m comment --comment ${name} -m tcp -p tcp -j DNAT --to-destination ${e.ip}:8080`,
      ]),
      `-A KUBE-NODEPORTS -m comment --comment ${name} -m tcp -p tcp --dport 30080 -j KUBE-MARK-MASQ`,
      `-A KUBE-NODEPORTS -m comment --comment ${name} -m tcp -p tcp --dport 30080 -j ${svc}`,
      NODEPORTS_LAST,
      "COMMIT",
    ];
    expect(text.split("\n")).toEqual([...expected, ""]);
    expect(text).not.toContain("10.244.1.9");
  });

  it("rejects traffic to a service without ready endpoints and keeps ClientIP affinity with -m recent", () => {
    const empty = "ns1/empty";
    const sticky = "ns1/sticky:dns";
    const svc = servicePortChainName(sticky, "udp");
    const sep = servicePortEndpointChainName(sticky, "udp", "10.244.1.5:53");
    const { text } = renderRules(
      [
        port(empty, { clusterIp: "10.96.0.20", nodePort: 30020, endpoints: [ep("10.244.1.6", 80, false)] }),
        port(sticky, {
          clusterIp: "10.96.0.30",
          port: 53,
          protocol: "UDP",
          affinitySeconds: 600,
          endpoints: [ep("10.244.1.5", 53)],
        }),
      ],
      { ...OPTS, clusterCidr: "", masqueradeAll: true, nodePortAddresses: ["192.168.1.0/24"] },
    );
    expect(text.split("\n")).toEqual([
      "*filter",
      ...FILTER_HEAD,
      `-A KUBE-SERVICES -m comment --comment "${empty} has no endpoints" -m tcp -p tcp -d 10.96.0.20/32 --dport 80 -j REJECT`,
      `-A KUBE-EXTERNAL-SERVICES -m comment --comment "${empty} has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30020 -j REJECT`,
      "COMMIT",
      "*nat",
      ...NAT_HEAD,
      `:${svc} - [0:0]`,
      `:${sep} - [0:0]`,
      ...NAT_FIXED,
      `-A KUBE-SERVICES -m comment --comment "${sticky} cluster IP" -m udp -p udp -d 10.96.0.30/32 --dport 53 -j ${svc}`,
      `-A ${svc} -m comment --comment "${sticky} cluster IP" -m udp -p udp -d 10.96.0.30/32 --dport 53 -j KUBE-MARK-MASQ`,
      `-A ${svc} -m comment --comment "${sticky} -> 10.244.1.5:53" -m recent --name ${sep} --mask 255.255.255.255 --rsource --rcheck --seconds 600 --reap -j ${sep}`,
      `-A ${svc} -m comment --comment "${sticky} -> 10.244.1.5:53" -j ${sep}`,
      `-A ${sep} -m comment --comment ${sticky} -s 10.244.1.5/32 -j KUBE-MARK-MASQ`,
      `-A ${sep} -m comment --comment ${sticky} -m recent --name ${sep} --mask 255.255.255.255 --rsource --set -m udp -p udp -j DNAT --to-destination 10.244.1.5:53`,
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 192.168.1.0/24 -j KUBE-NODEPORTS',
      "COMMIT",
      "",
    ]);
  });

  it("sends Local NodePort traffic only to this node's endpoints and drops it when there are none", () => {
    const name = "default/local";
    const svc = servicePortChainName(name, "tcp");
    const xlb = serviceLocalChainName(name, "tcp");
    const sepLocal = servicePortEndpointChainName(name, "tcp", "10.244.1.2:80");
    const { text } = renderRules(
      [
        port(name, {
          nodePort: 30300,
          externalLocal: true,
          endpoints: [ep("10.244.1.2", 80), ep("10.244.2.2", 80, true, "node-2")],
        }),
      ],
      OPTS,
    );
    const lines = text.split("\n");
    const xlbRules = lines.filter((l) => l.startsWith(`-A ${xlb} `) || l.includes(`-j ${xlb}`));
    expect(xlbRules).toEqual([
      `-A KUBE-NODEPORTS -m comment --comment ${name} -m tcp -p tcp --dport 30300 -j ${xlb}`,
      `-A ${xlb} -m comment --comment "Redirect pods trying to reach external loadbalancer VIP to clusterIP" -s 10.244.0.0/16 -j ${svc}`,
      `-A ${xlb} -m comment --comment "masquerade LOCAL traffic" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
      `-A ${xlb} -m comment --comment "route LOCAL traffic to service endpoints" -m addrtype --src-type LOCAL -j ${svc}`,
      `-A ${xlb} -m comment --comment "${name} -> 10.244.1.2:80" -j ${sepLocal}`,
    ]);
    const none = renderRules(
      [
        port(name, {
          nodePort: 30300,
          externalLocal: true,
          endpoints: [ep("10.244.2.2", 80, true, "node-2")],
        }),
      ],
      OPTS,
    ).text;
    expect(none).toContain(
      `-A KUBE-EXTERNAL-SERVICES -m comment --comment "${name} has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30300 -j DROP`,
    );
  });

  it("flushes and deletes owned chains that are no longer wanted, after the rules that used them", () => {
    const name = "default/web";
    const svc = servicePortChainName(name, "tcp");
    const gone = servicePortChainName("default/old", "tcp");
    const { text, natChains } = renderRules([port(name, { endpoints: [ep("10.244.1.2", 80)] })], OPTS, {
      nat: [svc, gone, "KUBE-SERVICES"],
      filter: ["KUBE-SERVICES"],
    });
    const lines = text.split("\n");
    expect(lines.filter((l) => l.includes(gone))).toEqual([`:${gone} - [0:0]`, `-X ${gone}`]);
    expect(lines.indexOf(`-X ${gone}`)).toBe(lines.lastIndexOf("COMMIT") - 1);
    expect(lines.filter((l) => l.startsWith("-X "))).toEqual([`-X ${gone}`]);
    expect(natChains.has(gone)).toBe(false);
    expect(natChains.has(svc)).toBe(true);
  });

  it("rewrites only the per-service chains that changed when given the previous sync's rules", () => {
    const a = "default/a";
    const b = "default/b";
    const before = [
      port(a, { clusterIp: "10.96.0.1", endpoints: [ep("10.244.1.2", 80), ep("10.244.1.3", 80)] }),
      port(b, { clusterIp: "10.96.0.2", endpoints: [ep("10.244.1.4", 80)] }),
    ];
    const first = renderRules(before, OPTS);
    const after = [before[0]!, port(b, { clusterIp: "10.96.0.2", endpoints: [ep("10.244.1.5", 80)] })];
    const second = renderRules(
      after,
      OPTS,
      { nat: first.natChains, filter: first.filterChains },
      first.chainRules,
    );
    const declared = second.text
      .split("\n")
      .filter((l) => l.startsWith(":KUBE-SVC-") || l.startsWith(":KUBE-SEP-"));
    const oldSep = servicePortEndpointChainName(b, "tcp", "10.244.1.4:80");
    const newSep = servicePortEndpointChainName(b, "tcp", "10.244.1.5:80");
    expect(declared.sort()).toEqual(
      [`:${servicePortChainName(b, "tcp")} - [0:0]`, `:${newSep} - [0:0]`, `:${oldSep} - [0:0]`].sort(),
    );
    expect(second.text).toContain(`-X ${oldSep}`);
    expect(second.text).not.toContain(servicePortChainName(a, "tcp") + " -");
    // The base chains are whole: a's jump from KUBE-SERVICES is still written.
    expect(second.text).toContain(`-d 10.96.0.1/32 --dport 80 -j ${servicePortChainName(a, "tcp")}`);
    expect(second.written).toBe(2);
    const third = renderRules(
      after,
      OPTS,
      { nat: second.natChains, filter: second.filterChains },
      second.chainRules,
    );
    expect(third.written).toBe(0);
  });
});
