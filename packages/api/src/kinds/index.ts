import { configMapKind } from "./config-map.js";
import type { KindDefinition } from "./define-kind.js";
import { deploymentKind } from "./deployment.js";
import { endpointsKind } from "./endpoints.js";
import { eventKind } from "./event.js";
import { experimentKind } from "./experiment.js";
import { leaseKind } from "./lease.js";
import { namespaceKind } from "./namespace.js";
import { nodeKind } from "./node.js";
import { podKind } from "./pod.js";
import { replicaSetKind } from "./replica-set.js";
import { secretKind } from "./secret.js";
import { serviceKind } from "./service.js";

export { configMapKind } from "./config-map.js";
export { defineKind, type KindDeclaration, type KindDefinition } from "./define-kind.js";
export { deploymentKind } from "./deployment.js";
export { endpointsKind, formatEndpoints } from "./endpoints.js";
export { eventKind } from "./event.js";
export { experimentKind } from "./experiment.js";
export { leaseKind } from "./lease.js";
export { namespaceKind } from "./namespace.js";
export { nodeKind } from "./node.js";
export { podKind } from "./pod.js";
export type { Columns, DescribeContext, Printer } from "./printing/printer.js";
export { replicaSetKind } from "./replica-set.js";
export { secretKind } from "./secret.js";
export { serviceClusterIp, serviceExternalIp, serviceKind, servicePorts } from "./service.js";

/** Every served kind, in the order the apiserver builds its registries and discovery lists them. */
export const KINDS: readonly KindDefinition[] = [
  namespaceKind,
  podKind,
  nodeKind,
  serviceKind,
  endpointsKind,
  eventKind,
  configMapKind,
  secretKind,
  replicaSetKind,
  deploymentKind,
  leaseKind,
  experimentKind,
];
