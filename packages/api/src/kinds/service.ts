import { type Endpoints, type Event, Service } from "../gen/tskube/v1/core.js";
import { serviceStrategy } from "../strategies/core.js";
import { defineKind } from "./define-kind.js";
import { endpointsKind, formatEndpoints } from "./endpoints.js";
import { age } from "./printing/age.js";
import { describeEvents } from "./printing/events.js";
import { formatLabels } from "./printing/format.js";
import { tabHeader } from "./printing/tab-header.js";
import { tabwrite } from "./printing/tabwriter.js";

/** kubectl clips load balancer addresses to this many characters outside `-o wide`. */
const LOAD_BALANCER_WIDTH = 16;

/** kubectl's loadBalancerStatusStringer: the ingress IPs (else hostnames), sorted and distinct. */
function loadBalancerStatus(s: Service, wide: boolean): string {
  const set = new Set<string>();
  for (const i of s.status?.loadBalancer?.ingress ?? []) {
    if (i.ip) set.add(i.ip);
    else if (i.hostname) set.add(i.hostname);
  }
  const r = [...set].sort().join(",");
  return !wide && r.length > LOAD_BALANCER_WIDTH ? `${r.slice(0, LOAD_BALANCER_WIDTH - 3)}...` : r;
}

/** EXTERNAL-IP as kubectl's getServiceExternalIP prints it. */
export function serviceExternalIp(s: Service, wide = false): string {
  const spec = s.spec;
  const extra = spec?.externalIps ?? [];
  switch (spec?.type) {
    case "ClusterIP":
    case "NodePort":
      return extra.length ? extra.join(",") : "<none>";
    case "LoadBalancer": {
      const lb = loadBalancerStatus(s, wide);
      if (extra.length) return [...(lb ? lb.split(",") : []), ...extra].join(",");
      return lb || "<pending>";
    }
    case "ExternalName":
      return spec.externalName;
    default:
      return "<unknown>";
  }
}

/** PORT(S): `80/TCP`, `80:30080/TCP` with a node port, comma-separated (kubectl's makePortString). */
export function servicePorts(s: Service): string {
  const ports = s.spec?.ports ?? [];
  if (!ports.length) return "<none>";
  return ports
    .map((p) => (p.nodePort > 0 ? `${p.port}:${p.nodePort}/${p.protocol}` : `${p.port}/${p.protocol}`))
    .join(",");
}

/** CLUSTER-IP: the first of spec.clusterIPs ("None" for a headless Service), else `<none>`. */
export function serviceClusterIp(s: Service): string {
  return s.spec?.clusterIps[0] || s.spec?.clusterIp || "<none>";
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
  let t = tabHeader(s.metadata);
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

export const serviceKind = defineKind({
  kind: "Service",
  group: "",
  version: "v1",
  resource: "services",
  singular: "service",
  shortNames: ["svc"],
  namespaced: true,
  hasStatus: true,
  hasSpec: true,
  messageType: Service,
  strategy: serviceStrategy,
  printer: {
    columns: {
      headers: ["TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
      wide: ["SELECTOR"],
      row: (s, now, wide) => [
        s.spec?.type ?? "",
        serviceClusterIp(s),
        serviceExternalIp(s, wide),
        servicePorts(s),
        age(s.metadata?.creationTimestamp, now),
      ],
      wideRow: (s) => [formatLabels(s.spec?.selector)],
    },
    // kubectl's service describer shows the Service's endpoints per port.
    describe: async (s, ctx) => {
      const m = s.metadata;
      const endpoints = await ctx.get(endpointsKind, m?.namespace ?? "", m?.name ?? "");
      return describeService(s, endpoints, ctx.events, ctx.now);
    },
  },
});
