import { isIPv6 } from "node:net";
import type { Pod, Service } from "@tskube/api";
import type { Informer } from "@tskube/controller";

export interface EnvVar {
  name: string;
  value: string;
}

/** Services whose variables every pod gets, even with enableServiceLinks false (Kubernetes' masterServices). */
const MASTER_SERVICES = new Set(["kubernetes"]);

/** `my-svc` → `MY_SVC` (Kubernetes' makeEnvVariableName). */
const envName = (s: string) => s.toUpperCase().replaceAll("-", "_");

const hasClusterIp = (svc: Service) => !!svc.spec?.clusterIp && svc.spec.clusterIp !== "None";

/**
 * Kubernetes' envvars.FromServices: for each Service with a ClusterIP, `<NAME>_SERVICE_HOST`,
 * `<NAME>_SERVICE_PORT` (its first port), `<NAME>_SERVICE_PORT_<PORTNAME>` per named port, and the
 * Docker link variables `<NAME>_PORT` (first port) and `<NAME>_PORT_<port>_<PROTO>` with its
 * `_PROTO`, `_PORT` and `_ADDR`.
 */
export function fromServices(services: Service[]): EnvVar[] {
  const out: EnvVar[] = [];
  for (const svc of services) {
    if (!hasClusterIp(svc)) continue;
    const ip = svc.spec!.clusterIp;
    const name = envName(svc.metadata!.name);
    const ports = svc.spec!.ports;
    out.push({ name: `${name}_SERVICE_HOST`, value: ip });
    if (ports[0]) out.push({ name: `${name}_SERVICE_PORT`, value: String(ports[0].port) });
    for (const p of ports)
      if (p.name) out.push({ name: `${name}_SERVICE_PORT_${envName(p.name)}`, value: String(p.port) });
    ports.forEach((p, i) => {
      const proto = (p.protocol || "TCP").toUpperCase();
      const hostPort = isIPv6(ip) ? `[${ip}]:${p.port}` : `${ip}:${p.port}`;
      const url = `${proto.toLowerCase()}://${hostPort}`;
      // Docker special-cases the first port.
      if (i === 0) out.push({ name: `${name}_PORT`, value: url });
      const prefix = `${name}_PORT_${p.port}_${proto}`;
      out.push(
        { name: prefix, value: url },
        { name: `${prefix}_PROTO`, value: proto.toLowerCase() },
        { name: `${prefix}_PORT`, value: String(p.port) },
        { name: `${prefix}_ADDR`, value: ip },
      );
    });
  }
  return out;
}

/**
 * Kubernetes' getServiceEnvVarMap: the Services of the pod's namespace when enableServiceLinks
 * (default true), and the master service `kubernetes` of `default` always (a namespace's own
 * Service of that name wins over it).
 */
export function serviceEnvFor(pod: Pod, services: Service[]): EnvVar[] {
  const ns = pod.metadata!.namespace || "default";
  const links = pod.spec?.enableServiceLinks ?? true;
  const byName = new Map<string, Service>();
  for (const svc of services) {
    if (!hasClusterIp(svc)) continue;
    const name = svc.metadata!.name;
    if (svc.metadata!.namespace === "default" && MASTER_SERVICES.has(name)) {
      if (!byName.has(name)) byName.set(name, svc);
    } else if (svc.metadata!.namespace === ns && links) {
      byName.set(name, svc);
    }
  }
  const sorted = [...byName.values()].sort((a, b) => a.metadata!.name.localeCompare(b.metadata!.name));
  return fromServices(sorted);
}

/** The container's own variables first; service variables only for names it does not declare. */
export function mergeServiceEnv(declared: EnvVar[], serviceEnv: EnvVar[]): EnvVar[] {
  const names = new Set(declared.map((e) => e.name));
  return [...declared, ...serviceEnv.filter((e) => !names.has(e.name))];
}

/**
 * The kubelet's service lister: an informer on every Service, read when a container's config is
 * made, so a container sees the Services that exist when it starts (not later ones, as in
 * Kubernetes).
 */
export class ServiceEnv {
  constructor(private readonly services: Informer<Service>) {}

  /** Throws until the informer listed once, as the kubelet does (the container is retried). */
  forPod(pod: Pod): EnvVar[] {
    if (!this.services.hasSynced())
      throw new Error("services have not yet been read at least once, cannot construct envvars");
    return serviceEnvFor(pod, this.services.store.list());
  }
}
