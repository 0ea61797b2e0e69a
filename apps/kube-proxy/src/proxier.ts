import type { ServicePortInfo } from "./service-port.js";

/** A proxy mode: programs the node so that the given service ports reach their ready endpoints. */
export interface Proxier {
  readonly mode: "iptables" | "userspace";
  /** Once, before the first sync (iptables: find what a previous run left). */
  start(): Promise<void>;
  /** Makes the node match the full, current set of service ports (level-based). */
  sync(ports: ServicePortInfo[]): Promise<void>;
  stop(): Promise<void>;
}
