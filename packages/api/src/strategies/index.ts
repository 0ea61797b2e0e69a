import type { KindInfo, KubeObject } from "../kinds.js";
import { deploymentStrategy, replicaSetStrategy } from "./apps.js";
import { experimentStrategy } from "./chaos.js";
import {
  configMapStrategy,
  endpointsStrategy,
  eventStrategy,
  leaseStrategy,
  namespaceStrategy,
  nodeStrategy,
  secretStrategy,
  serviceStrategy,
} from "./core.js";
import { podStrategy } from "./pod.js";
import type { Strategy } from "./types.js";

export { validateSelectorAndTemplate } from "./apps.js";
export {
  EXPERIMENT_ACTIONS,
  EXPERIMENT_DEFAULT_DURATION_SECONDS,
  EXPERIMENT_DEFAULTS,
  EXPERIMENT_HELD_ACTIONS,
  EXPERIMENT_KILL_ACTIONS,
  EXPERIMENT_LIMITS,
  EXPERIMENT_PHASES,
  EXPERIMENT_VERDICTS,
  type ExperimentAction,
} from "./chaos.js";
export { validateAnnotations, validateLabels, validateObjectMeta, validateObjectMetaUpdate } from "./meta.js";
export { defaultPodSpec, validatePodSpec } from "./pod.js";
export { validateLabelSelector } from "./selector.js";
export type { Strategy } from "./types.js";

const STRATEGIES: Record<string, Strategy<never>> = {
  Namespace: namespaceStrategy as Strategy<never>,
  Pod: podStrategy as Strategy<never>,
  Node: nodeStrategy as Strategy<never>,
  Service: serviceStrategy as Strategy<never>,
  Endpoints: endpointsStrategy as Strategy<never>,
  Event: eventStrategy as Strategy<never>,
  ConfigMap: configMapStrategy as Strategy<never>,
  Secret: secretStrategy as Strategy<never>,
  ReplicaSet: replicaSetStrategy as Strategy<never>,
  Deployment: deploymentStrategy as Strategy<never>,
  Lease: leaseStrategy as Strategy<never>,
  Experiment: experimentStrategy as Strategy<never>,
};

/** The strategy of a kind; every kind in KINDS has one. */
export function strategyFor(kind: KindInfo): Strategy<KubeObject> {
  const s = STRATEGIES[kind.kind];
  if (!s) throw new Error(`no strategy for kind ${kind.kind}`);
  return s as unknown as Strategy<KubeObject>;
}
