import { serviceLocalChainName, servicePortChainName, servicePortEndpointChainName } from "../hash.js";
import { type Endpoint, endpointString, type ServicePortInfo } from "../service-port.js";

/** The mark KUBE-MARK-MASQ sets and KUBE-POSTROUTING masquerades: Kubernetes' --iptables-masquerade-bit 14. */
export const MASQ_MARK = "0x4000";

export interface RuleOptions {
  /** The node's name: externalTrafficPolicy: Local keeps NodePort traffic on endpoints of this node. */
  nodeName: string;
  /** --cluster-cidr: traffic from outside it to a ClusterIP is masqueraded; "" leaves it alone. */
  clusterCidr: string;
  /** --masquerade-all: SNAT every packet sent to a ClusterIP. */
  masqueradeAll: boolean;
  /** --nodeport-addresses: CIDRs NodePorts answer on; empty means every local address. */
  nodePortAddresses: string[];
}

/** Chains in each table that this proxy owns and rewrites on every sync (beside per-service ones). */
export const NAT_BASE_CHAINS = ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"];
export const FILTER_BASE_CHAINS = ["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES"];

/** Per-service chains are ours if they carry one of these prefixes (used to find stale ones). */
export const OWNED_PREFIXES = ["KUBE-SVC-", "KUBE-SEP-", "KUBE-XLB-"];

/** The jumps from the built-in chains into ours, as Kubernetes installs them (table, chain, rule). */
export const JUMPS: { table: "nat" | "filter"; chain: string; args: string[] }[] = [
  {
    table: "filter",
    chain: "INPUT",
    args: [
      "-m",
      "conntrack",
      "--ctstate",
      "NEW",
      "-m",
      "comment",
      "--comment",
      "kubernetes externally-visible service portals",
      "-j",
      "KUBE-EXTERNAL-SERVICES",
    ],
  },
  {
    table: "filter",
    chain: "FORWARD",
    args: [
      "-m",
      "conntrack",
      "--ctstate",
      "NEW",
      "-m",
      "comment",
      "--comment",
      "kubernetes service portals",
      "-j",
      "KUBE-SERVICES",
    ],
  },
  {
    table: "filter",
    chain: "FORWARD",
    args: [
      "-m",
      "conntrack",
      "--ctstate",
      "NEW",
      "-m",
      "comment",
      "--comment",
      "kubernetes externally-visible service portals",
      "-j",
      "KUBE-EXTERNAL-SERVICES",
    ],
  },
  {
    table: "filter",
    chain: "OUTPUT",
    args: [
      "-m",
      "conntrack",
      "--ctstate",
      "NEW",
      "-m",
      "comment",
      "--comment",
      "kubernetes service portals",
      "-j",
      "KUBE-SERVICES",
    ],
  },
  {
    table: "nat",
    chain: "PREROUTING",
    args: ["-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"],
  },
  {
    table: "nat",
    chain: "OUTPUT",
    args: ["-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"],
  },
  {
    table: "nat",
    chain: "POSTROUTING",
    args: ["-m", "comment", "--comment", "kubernetes postrouting rules", "-j", "KUBE-POSTROUTING"],
  },
];

/** The text of both tables for iptables-restore, and every chain it declares. */
export interface RenderedRules {
  text: string;
  natChains: Set<string>;
  filterChains: Set<string>;
  /** The rules of every per-service nat chain, to pass as `previous` to the next sync. */
  chainRules: Map<string, string>;
  /** Per-service chains this text declares and rewrites (all of them unless `previous` was given). */
  written: number;
}

/** A comment argument: iptables-restore splits on spaces unless the word is double-quoted. */
const comment = (text: string) => `-m comment --comment ${/[\s"]/.test(text) ? JSON.stringify(text) : text}`;

const proto = (p: string) => {
  const l = p.toLowerCase();
  return `-m ${l} -p ${l}`;
};

const hostCidr = (ip: string) => (ip.includes(":") ? `${ip}/128` : `${ip}/32`);

/** Kubernetes' "%0.10f" of 1/n: the i-th of n endpoints is taken with probability 1/(n-i). */
export const probability = (n: number): string => (1 / n).toFixed(10);

/**
 * Renders Kubernetes' iptables-mode rule layout for the given service ports: every chain this
 * proxy owns is declared (which flushes it under --noflush) and fully rewritten, chains in
 * `stale` (owned, present before, no longer wanted) are flushed and deleted, all in one batch so
 * the kernel never sees half a sync.
 */
export function renderRules(
  ports: ServicePortInfo[],
  opts: RuleOptions,
  stale: { nat: Iterable<string>; filter: Iterable<string> } = { nat: [], filter: [] },
  previous?: ReadonlyMap<string, string>,
): RenderedRules {
  const natChains = new Set(NAT_BASE_CHAINS);
  const filterChains = new Set(FILTER_BASE_CHAINS);
  const nat: string[] = [];
  const filter: string[] = [];

  nat.push(
    `-A KUBE-POSTROUTING -m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`,
    // The mark would otherwise survive into a re-traversal (e.g. IPsec), masquerading twice.
    `-A KUBE-POSTROUTING -j MARK --xor-mark ${MASQ_MARK}`,
    `-A KUBE-POSTROUTING ${comment("kubernetes service traffic requiring SNAT")} -j MASQUERADE --random-fully`,
    `-A KUBE-MARK-MASQ -j MARK --or-mark ${MASQ_MARK}`,
  );

  const dport = (p: number) => `--dport ${p}`;
  for (const sp of ports) {
    const svcChain = servicePortChainName(sp.name, sp.protocol);
    const ready = sp.endpoints.filter((e) => e.ready);
    const m = proto(sp.protocol);
    const dests: { ip: string; what: string }[] = [
      { ip: sp.clusterIp, what: "cluster IP" },
      ...sp.externalIps.map((ip) => ({ ip, what: "external IP" })),
      ...sp.loadBalancerIps.map((ip) => ({ ip, what: "loadbalancer IP" })),
    ];

    if (ready.length === 0) {
      // No DNAT: the packet would go to an address nobody has; reject it at once instead.
      for (const d of dests)
        filter.push(
          `-A KUBE-SERVICES ${comment(`${sp.name} has no endpoints`)} ${m} -d ${hostCidr(d.ip)} ${dport(sp.port)} -j REJECT`,
        );
      if (sp.nodePort)
        filter.push(
          `-A KUBE-EXTERNAL-SERVICES ${comment(`${sp.name} has no endpoints`)} -m addrtype --dst-type LOCAL ${m} ${dport(sp.nodePort)} -j REJECT`,
        );
      continue;
    }

    natChains.add(svcChain);
    for (const d of dests) {
      nat.push(
        `-A KUBE-SERVICES ${comment(`${sp.name} ${d.what}`)} ${m} -d ${hostCidr(d.ip)} ${dport(sp.port)} -j ${svcChain}`,
      );
    }
    // Replies from the endpoint must come back through this node to be un-DNATed: masquerade
    // what does not come from a pod (pods reply via their node anyway), or everything.
    if (opts.masqueradeAll)
      nat.push(
        `-A ${svcChain} ${comment(`${sp.name} cluster IP`)} ${m} -d ${hostCidr(sp.clusterIp)} ${dport(sp.port)} -j KUBE-MARK-MASQ`,
      );
    else if (opts.clusterCidr)
      nat.push(
        `-A ${svcChain} ${comment(`${sp.name} cluster IP`)} ${m} -d ${hostCidr(sp.clusterIp)} ${dport(sp.port)} ! -s ${opts.clusterCidr} -j KUBE-MARK-MASQ`,
      );
    for (const ip of [...sp.externalIps, ...sp.loadBalancerIps])
      nat.push(
        `-A ${svcChain} ${comment(`${sp.name} external IP`)} ${m} -d ${hostCidr(ip)} ${dport(sp.port)} -j KUBE-MARK-MASQ`,
      );

    const sepChains = ready.map((e) => servicePortEndpointChainName(sp.name, sp.protocol, endpointString(e)));
    balance(nat, svcChain, sp, ready, sepChains);

    for (const [i, e] of ready.entries()) {
      const sep = sepChains[i]!;
      natChains.add(sep);
      // Hairpin: a pod reaching itself through its service must see the node as the source.
      nat.push(`-A ${sep} ${comment(sp.name)} -s ${hostCidr(e.ip)} -j KUBE-MARK-MASQ`);
      const recent = sp.affinitySeconds
        ? ` -m recent --name ${sep} --mask 255.255.255.255 --rsource --set`
        : "";
      nat.push(`-A ${sep} ${comment(sp.name)}${recent} ${m} -j DNAT --to-destination ${endpointString(e)}`);
    }

    if (sp.nodePort) {
      if (!sp.externalLocal) {
        // Traffic to a NodePort may leave for another node's endpoint: always masquerade it.
        nat.push(`-A KUBE-NODEPORTS ${comment(sp.name)} ${m} ${dport(sp.nodePort)} -j KUBE-MARK-MASQ`);
        nat.push(`-A KUBE-NODEPORTS ${comment(sp.name)} ${m} ${dport(sp.nodePort)} -j ${svcChain}`);
      } else {
        const xlb = serviceLocalChainName(sp.name, sp.protocol);
        natChains.add(xlb);
        nat.push(`-A KUBE-NODEPORTS ${comment(sp.name)} ${m} ${dport(sp.nodePort)} -j ${xlb}`);
        const local = ready.filter((e) => e.nodeName === opts.nodeName);
        // Pods and the node itself may use any endpoint; only outside clients keep their source IP.
        if (opts.clusterCidr)
          nat.push(
            `-A ${xlb} ${comment("Redirect pods trying to reach external loadbalancer VIP to clusterIP")} -s ${opts.clusterCidr} -j ${svcChain}`,
          );
        nat.push(
          `-A ${xlb} ${comment("masquerade LOCAL traffic")} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
          `-A ${xlb} ${comment("route LOCAL traffic to service endpoints")} -m addrtype --src-type LOCAL -j ${svcChain}`,
        );
        if (local.length === 0) {
          filter.push(
            `-A KUBE-EXTERNAL-SERVICES ${comment(`${sp.name} has no local endpoints`)} -m addrtype --dst-type LOCAL ${m} ${dport(sp.nodePort)} -j DROP`,
          );
        } else {
          balance(
            nat,
            xlb,
            sp,
            local,
            local.map((e) => servicePortEndpointChainName(sp.name, sp.protocol, endpointString(e))),
          );
        }
      }
    }
  }

  // Must stay last in KUBE-SERVICES: anything addressed to this node that no rule above took.
  const npComment = comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain");
  if (opts.nodePortAddresses.length === 0)
    nat.push(`-A KUBE-SERVICES ${npComment} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`);
  else
    for (const cidr of opts.nodePortAddresses)
      nat.push(`-A KUBE-SERVICES ${npComment} -d ${cidr} -j KUBE-NODEPORTS`);

  const staleNat = [...stale.nat].filter((c) => !natChains.has(c)).sort();
  const staleFilter = [...stale.filter].filter((c) => !filterChains.has(c)).sort();

  // Kubernetes' MinimizeIPTablesRestore: with the previous sync's rules at hand, a per-service chain
  // whose rules did not change is neither declared (which would flush it) nor rewritten. The nft
  // backend takes time in proportion to the chains a batch touches, so a one-endpoint change stays
  // small even with thousands of services; the base chains are always rewritten whole.
  const byChain = new Map<string, string[]>();
  for (const line of nat) {
    const chain = line.slice(3, line.indexOf(" ", 3));
    if (NAT_BASE_CHAINS.includes(chain)) continue;
    let l = byChain.get(chain);
    if (!l) {
      l = [];
      byChain.set(chain, l);
    }
    l.push(line);
  }
  const chainRules = new Map<string, string>();
  for (const c of natChains)
    if (!NAT_BASE_CHAINS.includes(c)) chainRules.set(c, (byChain.get(c) ?? []).join("\n"));
  const writeNat = new Set(
    [...natChains].filter((c) => NAT_BASE_CHAINS.includes(c) || previous?.get(c) !== chainRules.get(c)),
  );
  const table = (name: string, chains: Set<string>, rules: string[], gone: string[]) => [
    `*${name}`,
    ...[...chains, ...gone].map((c) => `:${c} - [0:0]`),
    ...rules,
    ...gone.map((c) => `-X ${c}`),
    "COMMIT",
  ];
  const natRules = previous ? nat.filter((l) => writeNat.has(l.slice(3, l.indexOf(" ", 3)))) : nat;
  const text = `${[
    ...table("filter", filterChains, filter, staleFilter),
    ...table("nat", writeNat, natRules, staleNat),
  ].join("\n")}\n`;
  return { text, natChains, filterChains, chainRules, written: writeNat.size - NAT_BASE_CHAINS.length };
}

/**
 * Spreads new connections across endpoints: with ClientIP affinity a client seen recently goes back
 * to its endpoint; otherwise endpoint i of n is taken with probability 1/(n-i), so each gets 1/n.
 */
function balance(nat: string[], chain: string, sp: ServicePortInfo, eps: Endpoint[], seps: string[]): void {
  if (sp.affinitySeconds)
    for (const [i, e] of eps.entries())
      nat.push(
        `-A ${chain} ${comment(`${sp.name} -> ${endpointString(e)}`)} -m recent --name ${seps[i]} --mask 255.255.255.255 --rsource --rcheck --seconds ${sp.affinitySeconds} --reap -j ${seps[i]}`,
      );
  const n = eps.length;
  for (const [i, e] of eps.entries()) {
    const stat = i < n - 1 ? ` -m statistic --mode random --probability ${probability(n - i)}` : "";
    nat.push(`-A ${chain} ${comment(`${sp.name} -> ${endpointString(e)}`)}${stat} -j ${seps[i]}`);
  }
}
