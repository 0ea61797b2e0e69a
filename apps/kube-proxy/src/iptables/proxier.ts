import type { Logger } from "@tskube/log";
import type { Proxier } from "../proxier.js";
import type { ServicePortInfo } from "../service-port.js";
import { type IptablesRunner, savedChains } from "./iptables.js";
import {
  FILTER_BASE_CHAINS,
  JUMPS,
  NAT_BASE_CHAINS,
  OWNED_PREFIXES,
  type RuleOptions,
  renderRules,
} from "./rules.js";

/** Per-service chains of any kube-proxy layout (ours and newer Kubernetes'), removed when stale. */
const STALE_PREFIXES = [...OWNED_PREFIXES, "KUBE-EXT-", "KUBE-SVL-", "KUBE-FW-"];

/**
 * iptables mode: every sync renders the whole KUBE-* rule set and writes it in one
 * `iptables-restore --noflush` batch; per-service chains that are no longer wanted are deleted in
 * the same batch. Chains a previous run left behind are found once on start (iptables-save).
 */
export class IptablesProxier implements Proxier {
  readonly mode = "iptables";
  private natOwned = new Set<string>();
  private filterOwned = new Set<string>();
  private jumpsCheckedAt = Number.NEGATIVE_INFINITY;
  private fullSyncAt = Number.NEGATIVE_INFINITY;
  /** The per-service chains' rules as the last successful restore wrote them. */
  private previous: Map<string, string> | undefined;

  constructor(
    private readonly ipt: IptablesRunner,
    private readonly opts: RuleOptions,
    private readonly log: Logger,
    /** How often the jumps from the built-in chains are checked (--iptables-sync-period). */
    private readonly jumpCheckIntervalMs: number,
    /** How often every chain is rewritten whatever changed (Kubernetes' FullSyncPeriod, 1h). */
    private readonly fullSyncIntervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async start(): Promise<void> {
    const [nat, filter] = await Promise.all([this.ipt.save("nat"), this.ipt.save("filter")]);
    const stale = (save: string, base: string[]) =>
      savedChains(save).filter((c) => base.includes(c) || STALE_PREFIXES.some((p) => c.startsWith(p)));
    this.natOwned = new Set(stale(nat, NAT_BASE_CHAINS));
    this.filterOwned = new Set(stale(filter, FILTER_BASE_CHAINS));
    const found = this.natOwned.size + this.filterOwned.size;
    if (found)
      this.log.info(
        { chains: found },
        "found KUBE-* chains of a previous run; the first sync rewrites or removes them",
      );
  }

  async sync(ports: ServicePortInfo[]): Promise<void> {
    // A full rewrite on start, after a failed restore (the kernel's state is then unknown) and once
    // per full sync period; otherwise only the per-service chains that changed.
    const full = !this.previous || this.now() - this.fullSyncAt >= this.fullSyncIntervalMs;
    const rendered = renderRules(
      ports,
      this.opts,
      { nat: this.natOwned, filter: this.filterOwned },
      full ? undefined : this.previous,
    );
    this.previous = undefined;
    await this.ipt.restore(rendered.text);
    this.previous = rendered.chainRules;
    if (full) this.fullSyncAt = this.now();
    this.natOwned = rendered.natChains;
    this.filterOwned = rendered.filterChains;
    this.log.debug({ full, chainsWritten: rendered.written }, "iptables-restore done");
    // The jumps into our chains need the chains to exist, so they follow the first restore; they
    // are checked again once per sync period in case someone flushed the built-in chains.
    if (this.now() - this.jumpsCheckedAt >= this.jumpCheckIntervalMs) await this.ensureJumps();
  }

  private async ensureJumps(): Promise<void> {
    for (const j of [...JUMPS].reverse()) {
      if (!(await this.ipt.check(j.table, j.chain, j.args))) {
        await this.ipt.insert(j.table, j.chain, j.args);
        this.log.info({ table: j.table, chain: j.chain, target: j.args.at(-1) }, "installed jump rule");
      }
    }
    this.jumpsCheckedAt = this.now();
  }

  async stop(): Promise<void> {}
}
