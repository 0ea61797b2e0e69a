import type { Endpoints, Service } from "@tskube/api";

/** One backend of a service port. */
export interface Endpoint {
  ip: string;
  port: number;
  /** Only ready endpoints get traffic; not-ready ones are kept for nothing but logging. */
  ready: boolean;
  nodeName: string;
}

/**
 * What kube-proxy programs for one port of one Service (Kubernetes' ServicePort plus its
 * endpoints): everything a proxier needs, read once per sync from the informers' caches.
 */
export interface ServicePortInfo {
  /** "ns/name:port", or "ns/name" for an unnamed port: Kubernetes' ServicePortName.String(). */
  name: string;
  namespace: string;
  serviceName: string;
  portName: string;
  /** TCP, UDP or SCTP as in the Service. */
  protocol: string;
  clusterIp: string;
  port: number;
  /** 0 when the service has none. */
  nodePort: number;
  externalIps: string[];
  loadBalancerIps: string[];
  /** ClientIP affinity timeout in seconds, 0 when sessionAffinity is None. */
  affinitySeconds: number;
  /** externalTrafficPolicy: Local — NodePort traffic only to endpoints on this node. */
  externalLocal: boolean;
  endpoints: Endpoint[];
}

/** Kubernetes' default sessionAffinityConfig.clientIP.timeoutSeconds: 3 hours. */
export const DEFAULT_AFFINITY_SECONDS = 10_800;

export const servicePortName = (namespace: string, name: string, portName: string): string =>
  `${namespace}/${name}${portName ? `:${portName}` : ""}`;

const endpointsKey = (namespace: string, name: string) => `${namespace}/${name}`;

/**
 * Joins Services with their Endpoints (same namespace and name; subset ports matched to service
 * ports by name, as the endpoints controller names them) into the ports to program, sorted by
 * name so every sync renders the same text for the same state. Services without a ClusterIP
 * (headless, ExternalName) have nothing to proxy.
 */
export function buildServicePorts(services: Service[], endpoints: Endpoints[]): ServicePortInfo[] {
  const byKey = new Map<string, Endpoints>();
  for (const ep of endpoints)
    byKey.set(endpointsKey(ep.metadata?.namespace ?? "", ep.metadata?.name ?? ""), ep);
  const out: ServicePortInfo[] = [];
  for (const svc of services) {
    const spec = svc.spec;
    const namespace = svc.metadata?.namespace ?? "";
    const name = svc.metadata?.name ?? "";
    if (!spec || spec.type === "ExternalName" || !spec.clusterIp || spec.clusterIp === "None") continue;
    const ep = byKey.get(endpointsKey(namespace, name));
    const affinitySeconds =
      spec.sessionAffinity === "ClientIP"
        ? (spec.sessionAffinityConfig?.clientIp?.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS)
        : 0;
    for (const p of spec.ports) {
      const protocol = p.protocol || "TCP";
      const eps: Endpoint[] = [];
      const seen = new Set<string>();
      for (const subset of ep?.subsets ?? []) {
        for (const epPort of subset.ports) {
          if (epPort.name !== p.name || (epPort.protocol || "TCP") !== protocol) continue;
          const add = (ready: boolean) => (a: { ip: string; nodeName: string }) => {
            const key = `${a.ip}:${epPort.port}`;
            if (seen.has(key)) return;
            seen.add(key);
            eps.push({ ip: a.ip, port: epPort.port, ready, nodeName: a.nodeName });
          };
          subset.addresses.forEach(add(true));
          subset.notReadyAddresses.forEach(add(false));
        }
      }
      eps.sort((a, b) => endpointString(a).localeCompare(endpointString(b)));
      out.push({
        name: servicePortName(namespace, name, p.name),
        namespace,
        serviceName: name,
        portName: p.name,
        protocol,
        clusterIp: spec.clusterIp,
        port: p.port,
        nodePort: spec.type === "NodePort" || spec.type === "LoadBalancer" ? p.nodePort : 0,
        externalIps: [...spec.externalIps],
        loadBalancerIps: (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip) => ip !== ""),
        affinitySeconds,
        externalLocal: spec.externalTrafficPolicy === "Local",
        endpoints: eps,
      });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.protocol < b.protocol ? -1 : 1));
}

export const endpointString = (e: { ip: string; port: number }): string =>
  e.ip.includes(":") ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
