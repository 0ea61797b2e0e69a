import { Endpoints, Service } from "@tskube/api";
import type { ClusterState } from "./zone.js";

/** A ClusterState over plain arrays, for tests of the zone and the handler. */
export class FakeState implements ClusterState {
  services: Service[] = [];
  endpointsList: Endpoints[] = [];
  namespaces = new Set(["default", "kube-system"]);
  isSynced = true;
  serialValue = 1_700_000_000;

  addService(ns: string, name: string, spec: Record<string, unknown>): Service {
    const svc = Service.fromPartial({ metadata: { name, namespace: ns }, spec });
    this.services = this.services.filter((s) => !(s.metadata!.namespace === ns && s.metadata!.name === name));
    this.services.push(svc);
    return svc;
  }

  addEndpoints(ns: string, name: string, subsets: Record<string, unknown>[]): Endpoints {
    const ep = Endpoints.fromPartial({ metadata: { name, namespace: ns }, subsets });
    this.endpointsList.push(ep);
    return ep;
  }

  service(namespace: string, name: string) {
    return this.services.find((s) => s.metadata!.namespace === namespace && s.metadata!.name === name);
  }
  endpoints(namespace: string, name: string) {
    return this.endpointsList.find((s) => s.metadata!.namespace === namespace && s.metadata!.name === name);
  }
  namespaceExists(namespace: string) {
    return this.namespaces.has(namespace);
  }
  servicesByIp(ip: string) {
    return this.services.filter((s) => s.spec!.clusterIps.includes(ip) || s.spec!.clusterIp === ip);
  }
  endpointsByIp(ip: string) {
    return this.endpointsList.filter((e) => e.subsets.some((s) => s.addresses.some((a) => a.ip === ip)));
  }
  synced() {
    return this.isSynced;
  }
  serial() {
    return this.serialValue;
  }
}
