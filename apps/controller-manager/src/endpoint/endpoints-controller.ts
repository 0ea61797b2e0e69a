import { Endpoints, encodeMessage, jsonEqual, objectKey, type Pod, type Service } from "@tskube/api";
import type { ResourceClient } from "@tskube/client";
import { type Controller, type Informer, type Lister, newControllerManagedBy } from "@tskube/controller";
import type { Logger } from "@tskube/log";
import { isAlreadyExists, isConflict, isNotFound, selectorFromSet } from "@tskube/machinery";
import type { ControllerContext, RunnableController } from "../context.js";
import { computeSubsets, HEADLESS_LABEL } from "./endpoints.js";

/** Kubernetes records when the change that triggered an Endpoints update happened. */
export const LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time";

export interface EndpointsControllerOptions {
  workers?: number;
}

const sameSubsets = (a: Endpoints, b: Endpoints) =>
  jsonEqual(
    a.subsets.map((s) => encodeMessage("tskube.v1.EndpointSubset", s)),
    b.subsets.map((s) => encodeMessage("tskube.v1.EndpointSubset", s)),
  );

const sameMap = (a: Record<string, string>, b: Record<string, string>) => jsonEqual(a, b);

/**
 * Kubernetes' endpoints controller: for every Service with a selector, an Endpoints object of the
 * same name listing the selected pods' addresses (ready and not ready apart) and the ports their
 * targetPorts resolve to. Pod and Service changes enqueue the Services they concern, so a pod
 * turning ready reaches the Endpoints in one sync.
 */
export class EndpointsController implements RunnableController {
  readonly controller: Controller;
  readonly services: Informer<Service>;
  readonly pods: Informer<Pod>;
  readonly endpoints: Informer<Endpoints>;
  private readonly serviceLister: Lister<Service>;
  private readonly client: ResourceClient<Endpoints>;
  private readonly log: Logger;

  constructor(ctx: ControllerContext, opts: EndpointsControllerOptions = {}) {
    this.log = ctx.log;
    this.client = ctx.client.resource<Endpoints>("endpoints");
    this.services = ctx.informers.informerFor<Service>("services");
    this.pods = ctx.informers.informerFor<Pod>("pods");
    this.endpoints = ctx.informers.informerFor<Endpoints>("endpoints");
    this.serviceLister = this.services.lister;
    this.controller = newControllerManagedBy(ctx)
      .named("endpoint")
      .for(this.services)
      // On update the pod's old labels count too: a relabelled pod leaves the Services it matched.
      .watches(this.pods, (p) => this.servicesSelecting(p))
      // An Endpoints object changed or removed by someone else is put back.
      .watches(this.endpoints, (e) => [objectKey(e)], { predicates: [{ create: () => false }] })
      .withOptions({ workers: opts.workers ?? 5 })
      .complete((key) => this.sync(key));
  }

  /** Services in the pod's namespace whose selector matches its labels. */
  servicesSelecting(pod: Pod): string[] {
    const labels = pod.metadata?.labels ?? {};
    return this.serviceLister
      .list(pod.metadata?.namespace ?? "")
      .filter((svc) => {
        const selector = svc.spec?.selector ?? {};
        return Object.keys(selector).length > 0 && selectorFromSet(selector).matches(labels);
      })
      .map(objectKey);
  }

  run(signal: AbortSignal): Promise<void> {
    return this.controller.run(signal);
  }

  async sync(key: string): Promise<void> {
    const [namespace, name] = key.split("/") as [string, string];
    const svc = this.serviceLister.get(namespace, name);
    if (!svc) {
      // The Service is gone: so are its Endpoints.
      try {
        await this.client.delete(name, { namespace });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      return;
    }
    const spec = svc.spec;
    // Services without a selector have Endpoints managed by their users; ExternalName has none.
    if (!spec || spec.type === "ExternalName" || Object.keys(spec.selector).length === 0) return;
    const selector = selectorFromSet(spec.selector);
    const pods = this.pods.lister.list(namespace).filter((p) => selector.matches(p.metadata?.labels ?? {}));
    const labels = { ...(svc.metadata?.labels ?? {}) };
    if (spec.clusterIp === "None") labels[HEADLESS_LABEL] = "";
    const desired = Endpoints.fromPartial({
      metadata: { name, namespace, labels },
      subsets: computeSubsets(svc, pods),
    });
    const current = this.endpoints.lister.get(namespace, name);
    if (current && sameSubsets(current, desired) && sameMap(current.metadata?.labels ?? {}, labels)) return;
    desired.metadata!.annotations = {
      ...(current?.metadata?.annotations ?? {}),
      [LAST_CHANGE_TRIGGER_TIME]: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    };
    try {
      if (!current) {
        await this.client.create(desired);
      } else {
        desired.metadata!.resourceVersion = current.metadata!.resourceVersion;
        await this.client.update(desired);
      }
      this.log.debug({ controller: "endpoint", key, subsets: desired.subsets.length }, "updated endpoints");
    } catch (err) {
      // A stale cache: the next event (or the retry) brings the current version.
      if (isConflict(err) || isAlreadyExists(err))
        throw new Error(`endpoints ${key} changed meanwhile; retrying`);
      throw err;
    }
  }
}
