import { objectKey, type Service } from "@tskube/api";
import type { ResourceClient } from "@tskube/client";
import {
  type Controller,
  type EventRecorder,
  type Informer,
  newControllerManagedBy,
  onlyDeletes,
} from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { isConflict, isNotFound } from "@tskube/machinery";
import type { ControllerContext, RunnableController } from "../context.js";
import type { IpPool } from "./ip-pool.js";

/** Kubernetes' finalizer: a LoadBalancer Service is not gone until its address is released. */
export const LOAD_BALANCER_CLEANUP_FINALIZER = "service.kubernetes.io/load-balancer-cleanup";

export interface ServiceLBControllerOptions {
  /** --load-balancer-ip-pool; undefined leaves every LoadBalancer Service `<pending>`. */
  pool: IpPool | undefined;
  /** --concurrent-service-syncs (1, as kube-controller-manager). */
  workers?: number;
}

const hasFinalizer = (s: Service) => (s.metadata?.finalizers ?? []).includes(LOAD_BALANCER_CLEANUP_FINALIZER);
const wantsLoadBalancer = (s: Service) => s.spec?.type === "LoadBalancer";
const ingressIp = (s: Service) => s.status?.loadBalancer?.ingress[0]?.ip ?? "";

/**
 * Kubernetes' service (load balancer) controller with an address pool standing in for the cloud:
 * each `type: LoadBalancer` Service gets one address of --load-balancer-ip-pool in
 * `status.loadBalancer.ingress`, guarded by the load-balancer-cleanup finalizer, and gives it back
 * when it is deleted or changes type. What is taken is computed from the Service informer plus
 * this term's own writes the cache may not show yet, so no store of allocations can drift from the
 * Services themselves; leader election makes this controller the only writer.
 */
export class ServiceLBController implements RunnableController {
  /** Absent without a pool: nothing is watched, so no queue fills up that no worker drains. */
  readonly controller: Controller | undefined;
  readonly services: Informer<Service>;
  private readonly client: ResourceClient<Service>;
  private readonly recorder: EventRecorder;
  private readonly log: Logger;
  private readonly pool: IpPool | undefined;
  /**
   * Addresses this controller handed out (or is handing out) by Service key. A status write is
   * seen by the informer a moment later; until then, the cache alone would offer the same address
   * to the next Service.
   */
  private readonly assigned = new Map<string, string>();

  constructor(ctx: ControllerContext, opts: ServiceLBControllerOptions) {
    this.log = ctx.log;
    this.pool = opts.pool;
    this.client = ctx.client.resource<Service>("services");
    this.services = ctx.informers.informerFor<Service>("services");
    this.recorder = ctx.recorder("service-controller");
    this.controller = !this.pool
      ? undefined
      : newControllerManagedBy(ctx)
          .named("service-lb-controller")
          .for(this.services)
          // A freed address may be what a pending Service waits for.
          .watches(this.services, (s) => (wantsLoadBalancer(s) || hasFinalizer(s) ? this.pending() : []), {
            predicates: [onlyDeletes],
          })
          .withOptions({ workers: opts.workers ?? 1 })
          .complete((key) => this.sync(key));
  }

  /** LoadBalancer Services that have no address yet, so an address given back is handed on. */
  private pending(): string[] {
    return this.services.lister
      .list()
      .filter((s) => wantsLoadBalancer(s) && !s.metadata?.deletionTimestamp && !ingressIp(s))
      .map(objectKey);
  }

  async run(signal: AbortSignal): Promise<void> {
    if (!this.pool || !this.controller) {
      // As kube-controller-manager without a cloud provider: LoadBalancer Services stay <pending>.
      this.log.info(
        { controller: "service-lb-controller" },
        "no --load-balancer-ip-pool; LoadBalancer Services stay pending",
      );
      return;
    }
    this.log.info(
      { controller: "service-lb-controller", pool: this.pool.text, size: this.pool.size },
      "handing out LoadBalancer addresses",
    );
    await this.controller.run(signal);
  }

  /** Addresses held by Services other than `key`, as the cache and this term's own writes show. */
  private taken(key: string): Set<string> {
    const taken = new Set<string>();
    for (const s of this.services.lister.list()) {
      const k = `${s.metadata?.namespace}/${s.metadata?.name}`;
      if (k === key) continue;
      // A Service still holding the finalizer has not given its address back yet.
      if (!wantsLoadBalancer(s) && !hasFinalizer(s)) continue;
      for (const i of s.status?.loadBalancer?.ingress ?? []) if (i.ip) taken.add(i.ip);
    }
    for (const [k, ip] of this.assigned) if (k !== key) taken.add(ip);
    return taken;
  }

  /** The address the Service should have, or an error saying why there is none. */
  private choose(key: string, svc: Service): string {
    const pool = this.pool!;
    const taken = this.taken(key);
    const requested = svc.spec?.loadBalancerIp ?? "";
    if (requested) {
      if (!pool.contains(requested))
        throw new Error(`requested IP ${requested} is not in the load balancer IP pool ${pool.text}`);
      if (taken.has(requested)) throw new Error(`requested IP ${requested} is already allocated`);
      return requested;
    }
    const current = this.assigned.get(key) ?? ingressIp(svc);
    if (current && pool.contains(current) && !taken.has(current)) return current;
    for (let i = 0; i < pool.size; i++) {
      const ip = pool.at(i);
      if (!taken.has(ip)) return ip;
    }
    throw new Error(`no addresses left in the load balancer IP pool ${pool.text}`);
  }

  async sync(key: string): Promise<void> {
    const [namespace, name] = key.split("/") as [string, string];
    const svc = this.services.lister.get(namespace, name);
    if (!svc) {
      // Gone (the finalizer came off, or it never had one): its address is free again.
      this.assigned.delete(key);
      return;
    }
    const needsCleanup = hasFinalizer(svc) && (!!svc.metadata?.deletionTimestamp || !wantsLoadBalancer(svc));
    if (!wantsLoadBalancer(svc) || needsCleanup) {
      await this.release(key, svc);
      return;
    }
    try {
      await this.ensure(key, svc);
    } catch (err) {
      if (isConflict(err)) throw new Error(`service ${key} changed meanwhile; retrying`);
      void this.recorder.event(
        svc,
        "Warning",
        "SyncLoadBalancerFailed",
        `Error syncing load balancer: ${(err as Error).message}`,
      );
      throw err;
    }
  }

  private async ensure(key: string, svc: Service): Promise<void> {
    const current = ingressIp(svc);
    let ip: string;
    try {
      ip = this.choose(key, svc);
    } catch (err) {
      // Kubernetes adds the finalizer before asking the cloud; a Service left pending holds no address.
      if (!hasFinalizer(svc))
        void this.recorder.event(svc, "Normal", "EnsuringLoadBalancer", "Ensuring load balancer");
      if (current) {
        // Its address went to another Service (loadBalancerIP) or left the pool: it is pending again.
        this.assigned.delete(key);
        await this.writeStatus(svc, "");
      }
      throw new Error(`failed to ensure load balancer: ${(err as Error).message}`);
    }
    const ingress = svc.status?.loadBalancer?.ingress ?? [];
    if (hasFinalizer(svc) && current === ip && ingress.length === 1) {
      this.assigned.set(key, ip);
      return;
    }
    void this.recorder.event(svc, "Normal", "EnsuringLoadBalancer", "Ensuring load balancer");
    // Reserved before the writes, so another worker's choice already sees it.
    this.assigned.set(key, ip);
    try {
      let latest = svc;
      if (!hasFinalizer(svc)) {
        latest = await this.client.update({
          ...svc,
          metadata: {
            ...svc.metadata!,
            finalizers: [...svc.metadata!.finalizers, LOAD_BALANCER_CLEANUP_FINALIZER],
          },
        });
      }
      await this.writeStatus(latest, ip);
    } catch (err) {
      if (current === ip) this.assigned.set(key, ip);
      else if (current) this.assigned.set(key, current);
      else this.assigned.delete(key);
      throw err;
    }
    this.log.info({ controller: "service-lb-controller", key, ip }, "assigned load balancer address");
    void this.recorder.event(svc, "Normal", "EnsuredLoadBalancer", "Ensured load balancer");
  }

  private async writeStatus(svc: Service, ip: string): Promise<Service> {
    return await this.client.updateStatus({
      ...svc,
      status: {
        $type: "tskube.v1.ServiceStatus",
        conditions: svc.status?.conditions ?? [],
        loadBalancer: {
          $type: "tskube.v1.LoadBalancerStatus",
          ingress: ip ? [{ $type: "tskube.v1.LoadBalancerIngress", ip, hostname: "" }] : [],
        },
      },
    });
  }

  /** Gives the address back: status cleared, finalizer removed (the Service may then leave storage). */
  private async release(key: string, svc: Service): Promise<void> {
    const had = ingressIp(svc);
    if (!had && !hasFinalizer(svc)) {
      this.assigned.delete(key);
      return;
    }
    if (had) void this.recorder.event(svc, "Normal", "DeletingLoadBalancer", "Deleting load balancer");
    try {
      let latest = svc;
      if (hasFinalizer(svc)) {
        latest = await this.client.update({
          ...svc,
          metadata: {
            ...svc.metadata!,
            finalizers: svc.metadata!.finalizers.filter((f) => f !== LOAD_BALANCER_CLEANUP_FINALIZER),
          },
        });
      }
      // A Service being deleted left storage with its finalizer; one that changed type keeps living.
      if (had) await this.writeStatus(latest, "");
    } catch (err) {
      if (isNotFound(err)) {
        this.assigned.delete(key);
        void this.recorder.event(svc, "Normal", "DeletedLoadBalancer", "Deleted load balancer");
        return;
      }
      if (isConflict(err)) throw new Error(`service ${key} changed meanwhile; retrying`);
      throw err;
    }
    this.assigned.delete(key);
    this.log.info({ controller: "service-lb-controller", key, ip: had }, "released load balancer address");
    void this.recorder.event(svc, "Normal", "DeletedLoadBalancer", "Deleted load balancer");
    for (const k of this.pending()) this.controller?.enqueue(k);
  }
}
