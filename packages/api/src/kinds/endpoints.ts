import { Endpoints, type Event } from "../gen/tskube/v1/core.js";
import { endpointsStrategy } from "../strategies/core.js";
import { defineKind } from "./define-kind.js";
import { age } from "./printing/age.js";
import { describeEvents } from "./printing/events.js";
import { tabHeader } from "./printing/tab-header.js";
import { tabwrite } from "./printing/tabwriter.js";

/** `ip:port`, with IPv6 addresses in brackets (Go's net.JoinHostPort). */
const hostPort = (ip: string, port: number) => (ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`);

/**
 * kubectl's formatEndpoints: ready addresses per port (only ports named in `portNames` when
 * given), at most three, then ` + N more...`; `<none>` without subsets, empty when no address is
 * ready.
 */
export function formatEndpoints(e: Endpoints, portNames?: ReadonlySet<string>): string {
  if (e.subsets.length === 0) return "<none>";
  const max = 3;
  const list: string[] = [];
  let more = false;
  let count = 0;
  for (const ss of e.subsets) {
    if (ss.ports.length === 0) {
      // A headless Service may have no ports.
      count += ss.addresses.length;
      for (const a of ss.addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(a.ip);
      }
      continue;
    }
    for (const p of ss.ports) {
      if (portNames && !portNames.has(p.name)) continue;
      count += ss.addresses.length;
      for (const a of ss.addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(hostPort(a.ip, p.port));
      }
    }
  }
  const ret = list.join(",");
  return more ? `${ret} + ${count - max} more...` : ret;
}

/** `ktl describe endpoints` as kubectl's describer: each subset's addresses and ports. */
export function describeEndpoints(e: Endpoints, events: readonly Event[], now: number): string {
  let t = `${tabHeader(e.metadata)}Subsets:\n`;
  for (const s of e.subsets) {
    t += `  Addresses:\t${s.addresses.map((a) => a.ip).join(",") || "<none>"}\n`;
    t += `  NotReadyAddresses:\t${s.notReadyAddresses.map((a) => a.ip).join(",") || "<none>"}\n`;
    if (s.ports.length) {
      t += "  Ports:\n    Name\tPort\tProtocol\n    ----\t----\t--------\n";
      for (const p of s.ports) t += `    ${p.name || "<unset>"}\t${p.port}\t${p.protocol}\n`;
    }
    t += "\n";
  }
  const ev = describeEvents(events, now);
  return tabwrite(t + ev.inline) + ev.table;
}

export const endpointsKind = defineKind({
  kind: "Endpoints",
  group: "",
  version: "v1",
  resource: "endpoints",
  singular: "endpoints",
  shortNames: ["ep"],
  namespaced: true,
  hasStatus: false,
  hasSpec: false,
  messageType: Endpoints,
  strategy: endpointsStrategy,
  printer: {
    columns: {
      headers: ["ENDPOINTS", "AGE"],
      wide: [],
      row: (e, now) => [formatEndpoints(e), age(e.metadata?.creationTimestamp, now)],
      wideRow: () => [],
    },
    describe: async (e, ctx) => describeEndpoints(e, ctx.events, ctx.now),
  },
});
