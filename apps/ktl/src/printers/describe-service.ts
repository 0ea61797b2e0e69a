import type { Endpoints, Event, ObjectMeta, Service } from "@tskube/api";
import { age } from "./age.js";
import { formatEndpoints, formatLabels } from "./columns.js";
import { tabwrite } from "./tabwriter.js";

/** kubectl describe leaves this annotation out: it is the whole object again. */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
/** Longer annotation lines are cut here (kubectl's maxAnnotationLen). */
const MAX_ANNOTATION_LEN = 140;

const sorted = (m: Record<string, string>) => Object.keys(m).sort();

/** `Labels:` with one `k=v` per line, sorted, continuation lines in the value column. */
function labelsMultiline(title: string, labels: Record<string, string>): string {
  const keys = sorted(labels);
  if (!keys.length) return `${title}:\t<none>\n`;
  return keys.map((k, i) => `${i === 0 ? `${title}:` : ""}\t${k}=${labels[k]}\n`).join("");
}

function annotationsMultiline(annotations: Record<string, string>): string {
  const keys = sorted(annotations).filter((k) => k !== LAST_APPLIED);
  if (!keys.length) return "Annotations:\t<none>\n";
  return keys
    .map((k, i) => {
      const line = `${k}=${annotations[k]}`;
      return `${i === 0 ? "Annotations:" : ""}\t${line.length > MAX_ANNOTATION_LEN ? `${line.slice(0, MAX_ANNOTATION_LEN)}...` : line}\n`;
    })
    .join("");
}

function header(m: ObjectMeta | undefined): string {
  return (
    `Name:\t${m?.name ?? ""}\n` +
    `Namespace:\t${m?.namespace ?? ""}\n` +
    labelsMultiline("Labels", m?.labels ?? {}) +
    annotationsMultiline(m?.annotations ?? {})
  );
}

/**
 * kubectl's DescribeEvents: `Events:  <none>` in the block above, or its own table (the writer is
 * flushed first, so the events align only among themselves), oldest last-seen first.
 */
export function describeEvents(events: readonly Event[], now: number): { inline: string; table: string } {
  if (!events.length) return { inline: "Events:\t<none>\n", table: "" };
  const rows = [...events]
    .sort((a, b) => Date.parse(a.lastTimestamp || "0") - Date.parse(b.lastTimestamp || "0"))
    .map((e) => {
      const first = age(e.eventTime || e.firstTimestamp, now);
      const interval = e.count > 1 ? `${age(e.lastTimestamp, now)} (x${e.count} over ${first})` : first;
      const from = e.source?.component || e.reportingComponent;
      return `  ${e.type}\t${e.reason}\t${interval}\t${from}\t${e.message.trim()}\n`;
    });
  return {
    inline: "",
    table: tabwrite(
      `Events:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n${rows.join("")}`,
    ),
  };
}

/** LoadBalancer Ingress: each ingress's IP (else hostname), comma-separated. */
const ingressString = (s: Service) =>
  (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip || i.hostname).join(", ");

/**
 * `ktl describe service` as kubectl 1.32's describer lays it out. `endpoints` is the Service's
 * Endpoints object (kubectl reads EndpointSlices; an absent one prints `<none>`, one without ready
 * addresses an empty value), filtered per port by the port's name.
 */
export function describeService(
  s: Service,
  endpoints: Endpoints | undefined,
  events: readonly Event[],
  now: number,
): string {
  const spec = s.spec;
  let t = header(s.metadata);
  t += `Selector:\t${formatLabels(spec?.selector)}\n`;
  t += `Type:\t${spec?.type ?? ""}\n`;
  if (spec?.ipFamilyPolicy) t += `IP Family Policy:\t${spec.ipFamilyPolicy}\n`;
  t += `IP Families:\t${spec?.ipFamilies.length ? spec.ipFamilies.join(",") : "<none>"}\n`;
  t += `IP:\t${spec?.clusterIp ?? ""}\n`;
  t += `IPs:\t${spec?.clusterIps.length ? spec.clusterIps.join(",") : "<none>"}\n`;
  if (spec?.externalIps.length) t += `External IPs:\t${spec.externalIps.join(",")}\n`;
  if (spec?.loadBalancerIp) t += `Desired LoadBalancer IP:\t${spec.loadBalancerIp}\n`;
  if (spec?.externalName) t += `External Name:\t${spec.externalName}\n`;
  if (s.status?.loadBalancer?.ingress.length) t += `LoadBalancer Ingress:\t${ingressString(s)}\n`;
  for (const p of spec?.ports ?? []) {
    const name = p.name || "<unset>";
    t += `Port:\t${name}\t${p.port}/${p.protocol}\n`;
    t += `TargetPort:\t${p.targetPort}/${p.protocol}\n`;
    if (p.nodePort) t += `NodePort:\t${name}\t${p.nodePort}/${p.protocol}\n`;
    // A selector's Endpoints object exists even while empty (as its EndpointSlice does for kubectl).
    const eps = !endpoints
      ? "<none>"
      : endpoints.subsets.length
        ? formatEndpoints(endpoints, new Set([p.name]))
        : "";
    t += `Endpoints:\t${eps}\n`;
  }
  t += `Session Affinity:\t${spec?.sessionAffinity ?? ""}\n`;
  if (spec?.externalTrafficPolicy) t += `External Traffic Policy:\t${spec.externalTrafficPolicy}\n`;
  if (spec?.internalTrafficPolicy) t += `Internal Traffic Policy:\t${spec.internalTrafficPolicy}\n`;
  if (spec?.healthCheckNodePort) t += `HealthCheck NodePort:\t${spec.healthCheckNodePort}\n`;
  if (spec?.loadBalancerSourceRanges.length)
    t += `LoadBalancer Source Ranges:\t${spec.loadBalancerSourceRanges.join(",")}\n`;
  const ev = describeEvents(events, now);
  return tabwrite(t + ev.inline) + ev.table;
}

/** `ktl describe endpoints` as kubectl's describer: each subset's addresses and ports. */
export function describeEndpoints(e: Endpoints, events: readonly Event[], now: number): string {
  let t = `${header(e.metadata)}Subsets:\n`;
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
