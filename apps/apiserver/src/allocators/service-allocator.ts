import type { KubeObject, Service, ServiceSpec } from "@tskube/api";
import type { Logger } from "@tskube/log";
import { errors, type FieldError, field } from "@tskube/machinery";
import type { FinishFunc, StorageHooks } from "../registry.js";
import type { Cacher } from "../storage/cacher.js";
import type { EtcdStore } from "../storage/etcd-store.js";
import { ipv4Range, ipv4ToNumber, numberToIpv4, type Owner, RangeAllocator } from "./range-allocator.js";

const GR = { group: "", resource: "services", kind: "Service" };

export interface ServiceAllocatorConfig {
  /** --service-cluster-ip-range */
  serviceCidr: string;
  /** --service-node-port-range, inclusive */
  nodePorts: { min: number; max: number };
}

const needsClusterIP = (s: ServiceSpec) => s.type !== "ExternalName" && s.clusterIp !== "None";
const needsNodePorts = (s: ServiceSpec) =>
  s.type === "NodePort" || (s.type === "LoadBalancer" && s.allocateLoadBalancerNodePorts !== false);

/** What a service holds: its ClusterIP (as a number) and node ports. */
interface Held {
  ip: number | undefined;
  ports: Set<number>;
}

function held(spec: ServiceSpec | undefined): Held {
  const ip = spec && needsClusterIP(spec) && spec.clusterIp ? ipv4ToNumber(spec.clusterIp) : undefined;
  const ports = new Set<number>();
  if (spec && needsNodePorts(spec)) for (const p of spec.ports) if (p.nodePort) ports.add(p.nodePort);
  return { ip, ports };
}

/** A range with nothing left: Kubernetes reports it as an internal error. */
class RangeFullError extends Error {}

/** One allocation step's reservations, so a failed write can give them back. */
class Reservations {
  readonly ips: number[] = [];
  readonly ports: number[] = [];
}

/**
 * ClusterIPs and NodePorts for Services (Kubernetes' service REST allocators): filled in on create,
 * kept across updates that omit them, moved when the type or ports change, and freed when the
 * Service is deleted. Allocation happens before the Service is written and is undone if the write
 * fails; a process that dies in between leaves a reservation that repair() frees later.
 */
export class ServiceAllocator implements StorageHooks {
  readonly ips: RangeAllocator;
  readonly ports: RangeAllocator;

  constructor(
    store: EtcdStore,
    private readonly config: ServiceAllocatorConfig,
    private readonly log: Logger,
  ) {
    const { first, last } = ipv4Range(config.serviceCidr);
    this.ips = new RangeAllocator(
      store,
      "/registry/ranges/serviceips/",
      first,
      last,
      numberToIpv4,
      ipv4ToNumber,
      RangeAllocator.ipStaticBand(last - first + 1),
    );
    const parsePort = (s: string) => (/^\d+$/.test(s) ? Number(s) : undefined);
    this.ports = new RangeAllocator(
      store,
      "/registry/ranges/servicenodeports/",
      config.nodePorts.min,
      config.nodePorts.max,
      String,
      parsePort,
      RangeAllocator.portStaticBand(config.nodePorts.max - config.nodePorts.min + 1),
    );
  }

  private owner(svc: KubeObject): Owner {
    const m = svc.metadata!;
    return { namespace: m.namespace, name: m.name, uid: m.uid, at: Date.now() };
  }

  private async undo(r: Reservations, uid: string): Promise<void> {
    for (const ip of r.ips) await this.ips.release(ip, uid);
    for (const port of r.ports) await this.ports.release(port, uid);
  }

  /**
   * Reserves what spec asks for beyond what `keep` already holds; fills in the ClusterIP and node
   * ports left empty. Field errors name the value that could not be had, in Kubernetes' words.
   */
  private async allocate(svc: Service, keep: Held, r: Reservations): Promise<FieldError[]> {
    const spec = svc.spec!;
    const owner = this.owner(svc);
    const errs: FieldError[] = [];
    if (needsClusterIP(spec)) {
      if (spec.clusterIp) {
        const ip = ipv4ToNumber(spec.clusterIp);
        if (ip === undefined || ip !== keep.ip) {
          const fail = (why: string) =>
            field.invalid(
              "spec.clusterIPs",
              spec.clusterIps,
              `failed to allocate IP ${spec.clusterIp}: ${why}`,
            );
          if (ip === undefined || !this.ips.contains(ip))
            errs.push(
              fail(
                `the provided IP (${spec.clusterIp}) is not in the valid range. The range of valid IPs is ${this.config.serviceCidr}`,
              ),
            );
          else if (!(await this.ips.reserve(ip, owner))) errs.push(fail("provided IP is already allocated"));
          else r.ips.push(ip);
        }
      } else {
        const ip = await this.ips.allocate(owner);
        if (ip === undefined) throw new RangeFullError("failed to allocate a serviceIP: range is full");
        r.ips.push(ip);
        spec.clusterIp = numberToIpv4(ip);
        spec.clusterIps = [spec.clusterIp];
        spec.ipFamilies = ["IPv4"];
        spec.ipFamilyPolicy ||= "SingleStack";
      }
    }
    if (needsNodePorts(spec)) {
      // Ports with the same number on different protocols may share a node port, as in Kubernetes;
      // otherwise a node port serves one service port.
      const byNodePort = new Map<number, string[]>();
      for (const [i, p] of spec.ports.entries()) {
        if (!p.nodePort) continue;
        const protocols = byNodePort.get(p.nodePort) ?? [];
        if (protocols.includes(p.protocol)) {
          errs.push(field.duplicate(`spec.ports[${i}].nodePort`, p.nodePort));
          continue;
        }
        protocols.push(p.protocol);
        byNodePort.set(p.nodePort, protocols);
        if (protocols.length > 1 || keep.ports.has(p.nodePort)) continue;
        const path = `spec.ports[${i}].nodePort`;
        if (!this.ports.contains(p.nodePort))
          errs.push(
            field.invalid(
              path,
              p.nodePort,
              `provided port is not in the valid range. The range of valid ports is ${this.config.nodePorts.min}-${this.config.nodePorts.max}`,
            ),
          );
        else if (!(await this.ports.reserve(p.nodePort, owner)))
          errs.push(field.invalid(path, p.nodePort, "provided port is already allocated"));
        else r.ports.push(p.nodePort);
      }
      if (errs.length) return errs;
      for (const p of spec.ports) {
        if (p.nodePort) continue;
        const twin = spec.ports.find(
          (q) => q !== p && q.port === p.port && q.protocol !== p.protocol && q.nodePort,
        );
        if (twin) {
          p.nodePort = twin.nodePort;
          continue;
        }
        const port = await this.ports.allocate(owner);
        if (port === undefined) throw new RangeFullError("failed to allocate a nodePort: range is full");
        r.ports.push(port);
        p.nodePort = port;
      }
    }
    return errs;
  }

  /** allocate(), giving back what it took if it fails part way. */
  private async allocateOrUndo(svc: Service, keep: Held, r: Reservations): Promise<FieldError[]> {
    try {
      return await this.allocate(svc, keep, r);
    } catch (err) {
      await this.undo(r, svc.metadata!.uid);
      if (err instanceof RangeFullError) throw errors.internal(err.message);
      throw err;
    }
  }

  async beginCreate(obj: KubeObject): Promise<FinishFunc> {
    const svc = obj as Service;
    const r = new Reservations();
    const uid = svc.metadata!.uid;
    const errs = await this.allocateOrUndo(svc, { ip: undefined, ports: new Set() }, r);
    if (errs.length) {
      await this.undo(r, uid);
      throw errors.invalid(GR, svc.metadata!.name, errs);
    }
    return async (success) => {
      if (!success) await this.undo(r, uid);
    };
  }

  /**
   * Before validation: an update that leaves out what the server allocated keeps it (as Kubernetes'
   * patchAllocatedValues), and a type that no longer uses a field drops it.
   */
  prepareUpdate(next: KubeObject, current: KubeObject): void {
    const spec = (next as Service).spec;
    const old = (current as Service).spec;
    if (!spec || !old) return;
    if (spec.type === "ExternalName") {
      spec.clusterIp = "";
      spec.clusterIps = [];
      spec.ipFamilies = [];
      spec.ipFamilyPolicy = "";
    } else if (!spec.clusterIp && old.clusterIp && old.type !== "ExternalName") {
      spec.clusterIp = old.clusterIp;
      spec.clusterIps = [...old.clusterIps];
      if (spec.ipFamilies.length === 0) spec.ipFamilies = [...old.ipFamilies];
      spec.ipFamilyPolicy ||= old.ipFamilyPolicy;
    }
    // Kubernetes' dropTypeDependentFields: what only the old type used goes, unless the update
    // itself set it (then validation says why it does not fit).
    const external = (t: string) => t === "NodePort" || t === "LoadBalancer";
    if (!external(spec.type) && external(old.type)) {
      if (spec.externalTrafficPolicy === old.externalTrafficPolicy) spec.externalTrafficPolicy = "";
      if (spec.healthCheckNodePort === old.healthCheckNodePort) spec.healthCheckNodePort = 0;
    }
    if (spec.type !== "LoadBalancer" && old.type === "LoadBalancer") {
      if (spec.allocateLoadBalancerNodePorts === old.allocateLoadBalancerNodePorts)
        spec.allocateLoadBalancerNodePorts = undefined;
    }
    if (!needsNodePorts(spec)) {
      for (const p of spec.ports) p.nodePort = 0;
    } else if (needsNodePorts(old)) {
      for (const p of spec.ports) {
        if (p.nodePort) continue;
        const was = old.ports.find((q) => q.port === p.port && q.protocol === p.protocol && q.nodePort);
        if (was) p.nodePort = was.nodePort;
      }
    }
  }

  async beginUpdate(next: KubeObject, current: KubeObject): Promise<FinishFunc> {
    const svc = next as Service;
    const uid = svc.metadata!.uid;
    const before = held((current as Service).spec);
    const r = new Reservations();
    const errs = await this.allocateOrUndo(svc, before, r);
    if (errs.length) {
      await this.undo(r, uid);
      throw errors.invalid(GR, svc.metadata!.name, errs);
    }
    const after = held(svc.spec);
    return async (success) => {
      if (!success) return this.undo(r, uid);
      // Written: what the old version held and the new one does not is free again.
      if (before.ip !== undefined && before.ip !== after.ip) await this.ips.release(before.ip, uid);
      for (const port of before.ports) if (!after.ports.has(port)) await this.ports.release(port, uid);
    };
  }

  async afterDelete(obj: KubeObject): Promise<void> {
    const { ip, ports } = held((obj as Service).spec);
    const uid = obj.metadata!.uid;
    if (ip !== undefined) await this.ips.release(ip, uid);
    for (const port of ports) await this.ports.release(port, uid);
  }

  /**
   * Kubernetes' allocator repair loop: reservations no Service holds (left by an apiserver that died
   * between reserving and writing) are freed once older than `graceMs`, and a Service's values that
   * lack their reservation (storage restored from an older backup) get it back.
   */
  async repair(services: Cacher, graceMs: number): Promise<{ freed: number; restored: number }> {
    await services.waitReady();
    const { items } = services.list({ namespace: "", matches: () => true });
    const wantIps = new Map<number, Owner>();
    const wantPorts = new Map<number, Owner>();
    for (const svc of items as Service[]) {
      const h = held(svc.spec);
      const owner = this.owner(svc);
      if (h.ip !== undefined && this.ips.contains(h.ip)) wantIps.set(h.ip, owner);
      for (const p of h.ports) if (this.ports.contains(p)) wantPorts.set(p, owner);
    }
    let freed = 0;
    let restored = 0;
    for (const [alloc, want] of [
      [this.ips, wantIps],
      [this.ports, wantPorts],
    ] as const) {
      const have = await alloc.allocated();
      for (const [v, owner] of have) {
        const holder = want.get(v);
        if (holder && holder.uid === owner?.uid) continue;
        if (!holder && owner && Date.now() - owner.at < graceMs) continue;
        // Not held by anyone (or recorded for another owner than the Service that has it).
        await alloc.release(v, owner?.uid ?? "");
        freed++;
        if (holder && (await alloc.reserve(v, holder))) restored++;
      }
      for (const [v, owner] of want) {
        if (have.has(v)) continue;
        if (await alloc.reserve(v, owner)) restored++;
      }
    }
    if (freed || restored)
      this.log.info({ freed, restored }, "repaired service IP and node port allocations");
    return { freed, restored };
  }
}
