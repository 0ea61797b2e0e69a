import {
  EndpointAddress,
  EndpointPort,
  EndpointSubset,
  type Pod,
  type Service,
  type ServicePort,
} from "@tskube/api";
import { isPodReady } from "../pod-util.js";

/** Kubernetes' label on the Endpoints of a headless Service. */
export const HEADLESS_LABEL = "service.kubernetes.io/headless";

/**
 * podutil.FindPort: a service's targetPort as a container port number. A number is itself; a name
 * is looked up among the pod's container ports with the same protocol. Undefined when the pod has
 * no such named port, which keeps the pod out of that port's endpoints.
 */
export function findPort(pod: Pod, port: ServicePort): number | undefined {
  const target = port.targetPort || String(port.port);
  if (/^\d+$/.test(target)) return Number(target);
  for (const c of pod.spec?.containers ?? [])
    for (const p of c.ports)
      if (p.name === target && (p.protocol || "TCP") === (port.protocol || "TCP")) return p.containerPort;
  return undefined;
}

/**
 * endpointutil.ShouldPodBeInEndpoints: a pod with an IP that is not finished (and not being
 * deleted, unless the Service publishes not-ready addresses).
 */
export function shouldBeInEndpoints(pod: Pod, includeTerminating: boolean): boolean {
  if (!pod.status?.podIp) return false;
  if (!includeTerminating && pod.metadata?.deletionTimestamp) return false;
  const phase = pod.status.phase;
  if (phase === "Succeeded" || phase === "Failed") return false;
  return true;
}

function addressOf(pod: Pod, svc: Service): EndpointAddress {
  const spec = pod.spec;
  // A pod's hostname is published when its subdomain names this Service (for headless DNS records).
  const hostname = spec?.hostname && spec.subdomain === svc.metadata?.name ? spec.hostname : "";
  return EndpointAddress.fromPartial({
    ip: pod.status!.podIp,
    hostname,
    nodeName: spec?.nodeName ?? "",
    targetRef: {
      kind: "Pod",
      namespace: pod.metadata!.namespace,
      name: pod.metadata!.name,
      uid: pod.metadata!.uid,
    },
  });
}

/**
 * The Endpoints subsets of a Service from its selected pods, as Kubernetes' endpoints controller
 * builds and then repacks them: ready and not-ready addresses apart, addresses with the same
 * resolved ports in one subset, everything sorted so an unchanged set compares equal.
 */
export function computeSubsets(svc: Service, pods: readonly Pod[]): EndpointSubset[] {
  const spec = svc.spec!;
  const publishNotReady = spec.publishNotReadyAddresses;
  const groups = new Map<
    string,
    { ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }
  >();
  for (const pod of pods) {
    if (!shouldBeInEndpoints(pod, publishNotReady)) continue;
    const ports: EndpointPort[] = [];
    // A headless Service without ports still lists its pods' addresses.
    for (const sp of spec.ports) {
      const port = findPort(pod, sp);
      if (port === undefined) continue;
      ports.push(
        EndpointPort.fromPartial({
          name: sp.name,
          port,
          protocol: sp.protocol || "TCP",
          appProtocol: sp.appProtocol,
        }),
      );
    }
    if (spec.ports.length > 0 && ports.length === 0) continue;
    ports.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.port - b.port));
    const key = ports.map((p) => `${p.name}/${p.port}/${p.protocol}`).join(",");
    const group = groups.get(key) ?? { ports, ready: [], notReady: [] };
    groups.set(key, group);
    const address = addressOf(pod, svc);
    if (publishNotReady || isPodReady(pod)) group.ready.push(address);
    else group.notReady.push(address);
  }
  const byIp = (a: EndpointAddress, b: EndpointAddress) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0);
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, g]) =>
      EndpointSubset.fromPartial({
        addresses: g.ready.sort(byIp),
        notReadyAddresses: g.notReady.sort(byIp),
        ports: g.ports,
      }),
    );
}
