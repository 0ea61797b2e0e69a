import type { Endpoints, KubeObject, Namespace, Service } from "@tskube/api";
import type { Informer, SharedInformerFactory } from "@tskube/controller";
import type { ClusterState } from "./zone.js";

const CLUSTER_IP_INDEX = "clusterIP";
const ADDRESS_INDEX = "address";

/**
 * The zone's view of the cluster: shared informers on Services, Endpoints and Namespaces (list +
 * watch, no polling), with indexes by ClusterIP and endpoint address for PTR. Every change moves the
 * SOA serial, as CoreDNS' serial is the time of the last change it saw.
 */
export class InformerState implements ClusterState {
  private readonly services: Informer<Service>;
  private readonly endpointsInformer: Informer<Endpoints>;
  private readonly namespaces: Informer<Namespace>;
  private lastChange = Math.floor(Date.now() / 1000);

  constructor(factory: SharedInformerFactory) {
    this.services = factory.informerFor<Service>("services");
    this.endpointsInformer = factory.informerFor<Endpoints>("endpoints");
    this.namespaces = factory.informerFor<Namespace>("namespaces");
    this.services.store.addIndexer(CLUSTER_IP_INDEX, (s) =>
      (s.spec?.clusterIps.length ? s.spec.clusterIps : [s.spec?.clusterIp ?? ""]).filter(
        (ip) => ip && ip !== "None",
      ),
    );
    this.endpointsInformer.store.addIndexer(ADDRESS_INDEX, (e) =>
      e.subsets.flatMap((s) => s.addresses.map((a) => a.ip)),
    );
    const touch = () => {
      this.lastChange = Math.floor(Date.now() / 1000);
    };
    for (const i of [this.services, this.endpointsInformer, this.namespaces] as Informer<KubeObject>[])
      i.addEventHandler({ onAdd: touch, onUpdate: touch, onDelete: touch });
  }

  service(namespace: string, name: string): Service | undefined {
    return this.services.lister.get(namespace, name);
  }

  endpoints(namespace: string, name: string): Endpoints | undefined {
    return this.endpointsInformer.lister.get(namespace, name);
  }

  namespaceExists(namespace: string): boolean {
    return this.namespaces.lister.get("", namespace) !== undefined;
  }

  servicesByIp(ip: string): Service[] {
    return this.services.store.byIndex(CLUSTER_IP_INDEX, ip);
  }

  endpointsByIp(ip: string): Endpoints[] {
    return this.endpointsInformer.store.byIndex(ADDRESS_INDEX, ip);
  }

  synced(): boolean {
    return this.services.hasSynced() && this.endpointsInformer.hasSynced() && this.namespaces.hasSynced();
  }

  serial(): number {
    return this.lastChange;
  }
}
