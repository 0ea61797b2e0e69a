import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

/** Where `ip netns add` keeps its named namespaces (bind mounts that outlive any process). */
export const NETNS_DIR = "/run/netns";
const RULE_COMMENT = "tskube pod bridge";

/** Runs a host tool; the error carries its stderr, which says what went wrong. */
export async function run(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, { encoding: "utf8" });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${(e.stderr || e.message).trim()}`);
  }
}

/**
 * Docker, kube-proxy and other kubelets change the same tables: wait for the xtables lock instead
 * of failing, bounded as Kubernetes' iptables helper bounds it (5 s).
 */
const iptables = (args: string[]) => run("iptables", ["-w", "5", ...args]);

export const ipToInt = (ip: string) => ip.split(".").reduce((a, o) => a * 256 + Number(o), 0) >>> 0;
export const intToIp = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");

/**
 * A pod's namespace and veth pair, whichever node made them (a kubelet restarted without isolation
 * still cleans up after the one before). Deleting the namespace destroys the veth end inside it and
 * with it the pair, but only once the kernel gets to it; the host end goes first so the name is
 * free at once.
 */
export async function deletePodNetwork(netns: string, veth: string): Promise<void> {
  if (veth && existsSync(`/sys/class/net/${veth}`)) await run("ip", ["link", "del", veth]).catch(() => {});
  if (netns && existsSync(join(NETNS_DIR, netns))) await run("ip", ["netns", "del", netns]);
}

/** Interface names are at most 15 bytes: a short hash of the node name keeps them unique per node. */
export function nodeHash(nodeName: string): string {
  return createHash("sha1").update(nodeName).digest("hex").slice(0, 10);
}

interface IpAddr {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/**
 * A node's pod network for the process runtime, built from iproute2 as a CNI bridge plugin would:
 * one Linux bridge per node holding the pod CIDR's first address (the pods' gateway), and per pod
 * a named network namespace with a veth pair, `eth0` inside (the pod IP, default route via the
 * gateway, loopback up) and the host end on the bridge.
 *
 * Pods of two kubelets on one host reach each other without extra routes: both bridges live in
 * the host's namespace, so each node's pod CIDR is a connected route there and the host forwards
 * between the bridges like any router between two attached subnets. Only the FORWARD chain needs
 * an ACCEPT for the bridges, because Docker sets its policy to DROP (and br_netfilter passes even
 * bridge-local traffic through it).
 */
export class PodNetwork {
  readonly bridge: string;
  readonly gateway: string;
  readonly prefixLength: number;
  private readonly nsPrefix: string;
  private readonly cidr: { base: number; size: number };

  constructor(nodeName: string, podCidr: string) {
    const [net, bits] = podCidr.split("/");
    this.prefixLength = Number(bits);
    const hash = nodeHash(nodeName);
    this.bridge = `tsk-${hash}`;
    this.gateway = intToIp(ipToInt(net!) + 1);
    this.nsPrefix = `tskube-${hash}-`;
    this.cidr = { base: ipToInt(net!), size: 2 ** (32 - this.prefixLength) };
  }

  netnsName(sandboxId: string): string {
    return `${this.nsPrefix}${sandboxId}`;
  }

  netnsPath(name: string): string {
    return join(NETNS_DIR, name);
  }

  vethName(sandboxId: string): string {
    return `vtsk${sandboxId.slice(0, 10)}`;
  }

  private inCidr(ip: string): boolean {
    const n = ipToInt(ip);
    return n >= this.cidr.base && n < this.cidr.base + this.cidr.size;
  }

  /** The bridge with the gateway address, forwarding on; idempotent, so a restarted kubelet reuses it. */
  async ensureBridge(): Promise<void> {
    const addrs = JSON.parse(await run("ip", ["-j", "-4", "addr", "show"])) as IpAddr[];
    for (const a of addrs) {
      if (a.ifname === this.bridge) continue;
      for (const i of a.addr_info ?? []) {
        if (i.family === "inet" && this.inCidr(i.local))
          throw new Error(
            `--pod-cidr: Invalid value: "${intToIp(this.cidr.base)}/${this.prefixLength}": overlaps ${i.local}/${i.prefixlen} on ${a.ifname} (another node's pod bridge?)`,
          );
      }
    }
    const own = addrs.find((a) => a.ifname === this.bridge);
    if (!own && !existsSync(`/sys/class/net/${this.bridge}`))
      await run("ip", ["link", "add", this.bridge, "type", "bridge"]);
    // The node's pod CIDR changed since the bridge was made: its old gateway address goes.
    for (const i of own?.addr_info ?? [])
      if (i.family === "inet" && (i.local !== this.gateway || i.prefixlen !== this.prefixLength))
        await run("ip", ["addr", "del", `${i.local}/${i.prefixlen}`, "dev", this.bridge]);
    await run("ip", ["addr", "replace", `${this.gateway}/${this.prefixLength}`, "dev", this.bridge]);
    await run("ip", ["link", "set", this.bridge, "up"]);
    writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");
    for (const dir of ["-i", "-o"]) {
      const rule = [dir, this.bridge, "-m", "comment", "--comment", RULE_COMMENT, "-j", "ACCEPT"];
      const present = await iptables(["-C", "FORWARD", ...rule]).then(
        () => true,
        () => false,
      );
      if (!present) await iptables(["-I", "FORWARD", "1", ...rule]);
    }
  }

  /** Removes the bridge and its FORWARD rules (a node taken out of service). */
  async deleteBridge(): Promise<void> {
    for (const dir of ["-i", "-o"]) {
      const rule = [dir, this.bridge, "-m", "comment", "--comment", RULE_COMMENT, "-j", "ACCEPT"];
      while (
        await iptables(["-D", "FORWARD", ...rule]).then(
          () => true,
          () => false,
        )
      );
    }
    if (existsSync(`/sys/class/net/${this.bridge}`)) await run("ip", ["link", "del", this.bridge]);
  }

  /** The pod's namespace and veth pair; on failure whatever was made is removed again. */
  async setUp(sandboxId: string, ip: string): Promise<{ netns: string; veth: string }> {
    const netns = this.netnsName(sandboxId);
    const veth = this.vethName(sandboxId);
    try {
      await run("ip", ["netns", "add", netns]);
      await run("ip", ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns]);
      await this.attach(veth);
      await run("ip", ["-n", netns, "addr", "add", `${ip}/${this.prefixLength}`, "dev", "eth0"]);
      await run("ip", ["-n", netns, "link", "set", "lo", "up"]);
      await run("ip", ["-n", netns, "link", "set", "eth0", "up"]);
      await run("ip", ["-n", netns, "route", "add", "default", "via", this.gateway]);
    } catch (err) {
      await deletePodNetwork(netns, veth).catch(() => {});
      throw err;
    }
    return { netns, veth };
  }

  /** Puts a pod's veth (back) on the bridge. */
  async attach(veth: string): Promise<void> {
    await run("ip", ["link", "set", veth, "master", this.bridge, "up"]);
  }

  /** Namespaces this node made (by name prefix), for removing those no sandbox record owns. */
  namespaces(): { name: string; sandboxId: string }[] {
    if (!existsSync(NETNS_DIR)) return [];
    return readdirSync(NETNS_DIR)
      .filter((n) => n.startsWith(this.nsPrefix))
      .map((name) => ({ name, sandboxId: name.slice(this.nsPrefix.length) }));
  }

  /** Pod veths on this node's bridge (host ends). */
  async veths(): Promise<string[]> {
    if (!existsSync(`/sys/class/net/${this.bridge}`)) return [];
    const links = JSON.parse(await run("ip", ["-j", "link", "show", "master", this.bridge])) as {
      ifname: string;
    }[];
    return links.map((l) => l.ifname).filter((n) => n.startsWith("vtsk"));
  }
}
