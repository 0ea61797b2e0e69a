import type { ControllerContext, RunnableController } from "./context.js";
import { DeploymentController } from "./deployment/deployment-controller.js";
import { EndpointsController } from "./endpoint/endpoints-controller.js";
import { GarbageCollector } from "./garbagecollector/garbage-collector.js";
import { NamespaceController } from "./namespace/namespace-controller.js";
import {
  NodeLifecycleController,
  type NodeLifecycleOptions,
} from "./nodelifecycle/node-lifecycle-controller.js";
import { TaintEvictionController } from "./nodelifecycle/taint-eviction-controller.js";
import { ReplicaSetController } from "./replicaset/replicaset-controller.js";
import type { IpPool } from "./servicelb/ip-pool.js";
import { ServiceLBController } from "./servicelb/service-lb-controller.js";

export interface Workers {
  replicaset: number;
  deployment: number;
  garbagecollector: number;
  namespace: number;
  endpoint: number;
  service: number;
}

/** Settings of single controllers, from their flags (kube-controller-manager's component config). */
export interface ControllerSettings {
  nodeLifecycle: NodeLifecycleOptions;
  /** --load-balancer-ip-pool; undefined when empty. */
  loadBalancerIpPool: IpPool | undefined;
}

/** Every controller this manager knows, by the names kube-controller-manager's --controllers uses. */
export const KNOWN_CONTROLLERS: Record<
  string,
  (ctx: ControllerContext, workers: Workers, settings: ControllerSettings) => RunnableController
> = {
  deployment: (ctx, w) => new DeploymentController(ctx, { workers: w.deployment }),
  endpoint: (ctx, w) => new EndpointsController(ctx, { workers: w.endpoint }),
  garbagecollector: (ctx, w) => new GarbageCollector(ctx, { workers: w.garbagecollector }),
  namespace: (ctx, w) => new NamespaceController(ctx, { workers: w.namespace }),
  nodelifecycle: (ctx, _w, s) => new NodeLifecycleController(ctx, s.nodeLifecycle),
  replicaset: (ctx, w) => new ReplicaSetController(ctx, { workers: w.replicaset }),
  "service-lb-controller": (ctx, w, s) =>
    new ServiceLBController(ctx, { pool: s.loadBalancerIpPool, workers: w.service }),
  "taint-eviction-controller": (ctx) => new TaintEvictionController(ctx),
};

/**
 * --controllers as kube-controller-manager reads it: a comma-separated list where "*" means every
 * controller that is on by default, "foo" turns foo on and "-foo" turns it off.
 */
export function enabledControllers(flag: string): string[] {
  const items = flag
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const known = Object.keys(KNOWN_CONTROLLERS);
  for (const item of items) {
    const name = item.replace(/^-/, "");
    if (name !== "*" && !known.includes(name))
      throw new Error(
        `--controllers: Unsupported value: "${name}": supported values: "*", ${known.map((k) => `"${k}"`).join(", ")}`,
      );
  }
  return known.filter((name) => {
    if (items.includes(`-${name}`)) return false;
    return items.includes(name) || items.includes("*");
  });
}
