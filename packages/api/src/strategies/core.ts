import {
  type FieldError,
  field,
  isConfigMapKey,
  isValidIP,
  isValidPortName,
  isValidPortNum,
} from "@tskube/machinery";
import type { Lease } from "../gen/tskube/v1/coordination.js";
import type { ConfigMap, Endpoints, Event, Namespace, Node, Secret, Service } from "../gen/tskube/v1/core.js";
import type { KubeObject } from "../kinds.js";
import { dns1123Label, validateObjectMeta, validateObjectMetaUpdate } from "./meta.js";
import type { Strategy } from "./types.js";

const noErrors = (): FieldError[] => [];
const MAX_DATA_BYTES = 1024 * 1024;

/** A strategy built from create-time checks; updates add the immutable metadata checks. */
function simple<T extends KubeObject>(
  s: Partial<Strategy<T>> & { validate: (obj: T) => FieldError[] },
): Strategy<T> {
  return {
    applyDefaults: s.applyDefaults ?? (() => {}),
    validate: s.validate,
    validateUpdate:
      s.validateUpdate ??
      ((obj, old) => [...s.validate(obj), ...validateObjectMetaUpdate(obj.metadata, old.metadata)]),
    validateStatusUpdate: s.validateStatusUpdate ?? noErrors,
    selectableFields: s.selectableFields ?? (() => ({})),
  };
}

export const namespaceStrategy = simple<Namespace>({
  applyDefaults(ns) {
    ns.spec ??= { $type: "tskube.v1.NamespaceSpec", finalizers: [] };
    if (!ns.metadata?.deletionTimestamp && ns.spec.finalizers.length === 0 && !ns.metadata?.resourceVersion) {
      ns.spec.finalizers = ["kubernetes"];
    }
    if (ns.metadata) ns.metadata.labels["kubernetes.io/metadata.name"] = ns.metadata.name;
  },
  validate: (ns) => validateObjectMeta(ns.metadata, false, dns1123Label),
  validateStatusUpdate(ns) {
    const phase = ns.status?.phase;
    return phase && !["Active", "Terminating"].includes(phase)
      ? [field.notSupported("status.phase", phase, ["Active", "Terminating"])]
      : [];
  },
  selectableFields: (ns) => ({ "status.phase": ns.status?.phase ?? "" }),
});

export const nodeStrategy = simple<Node>({
  validate(node) {
    const errs = validateObjectMeta(node.metadata, false);
    for (const [i, t] of (node.spec?.taints ?? []).entries()) {
      const effects = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
      if (!t.key) errs.push(field.required(`spec.taints[${i}].key`, ""));
      if (!effects.includes(t.effect))
        errs.push(field.notSupported(`spec.taints[${i}].effect`, t.effect, effects));
    }
    return errs;
  },
  selectableFields: (node) => ({ "spec.unschedulable": String(node.spec?.unschedulable ?? false) }),
});

const SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];
const AFFINITIES = ["ClientIP", "None"];

export const serviceStrategy: Strategy<Service> = simple<Service>({
  applyDefaults(svc) {
    const spec = svc.spec;
    if (!spec) return;
    spec.type ||= "ClusterIP";
    spec.sessionAffinity ||= "None";
    if (spec.type === "NodePort" || spec.type === "LoadBalancer") spec.externalTrafficPolicy ||= "Cluster";
    if (spec.type !== "ExternalName") spec.internalTrafficPolicy ||= "Cluster";
    for (const p of spec.ports) {
      p.protocol ||= "TCP";
      p.targetPort ||= String(p.port);
    }
  },
  validate(svc) {
    const errs = validateObjectMeta(svc.metadata, true, dns1123Label);
    const spec = svc.spec;
    if (!spec) return [...errs, field.required("spec", "")];
    if (!SERVICE_TYPES.includes(spec.type))
      errs.push(field.notSupported("spec.type", spec.type, SERVICE_TYPES));
    if (!AFFINITIES.includes(spec.sessionAffinity))
      errs.push(field.notSupported("spec.sessionAffinity", spec.sessionAffinity, AFFINITIES));
    if (spec.type === "ExternalName") {
      if (!spec.externalName) errs.push(field.required("spec.externalName", ""));
    } else if (spec.ports.length === 0 && spec.clusterIp !== "None") {
      errs.push(field.required("spec.ports", ""));
    }
    const names = new Set<string>();
    spec.ports.forEach((p, i) => {
      const path = `spec.ports[${i}]`;
      if (spec.ports.length > 1 && !p.name) errs.push(field.required(`${path}.name`, ""));
      if (p.name) {
        for (const e of isValidPortName(p.name)) errs.push(field.invalid(`${path}.name`, p.name, e));
        if (names.has(p.name)) errs.push(field.duplicate(`${path}.name`, p.name));
        names.add(p.name);
      }
      for (const e of isValidPortNum(p.port)) errs.push(field.invalid(`${path}.port`, p.port, e));
      if (!["TCP", "UDP", "SCTP"].includes(p.protocol))
        errs.push(field.notSupported(`${path}.protocol`, p.protocol, ["TCP", "UDP", "SCTP"]));
      if (/^\d+$/.test(p.targetPort)) {
        for (const e of isValidPortNum(Number(p.targetPort)))
          errs.push(field.invalid(`${path}.targetPort`, Number(p.targetPort), e));
      } else if (p.targetPort) {
        for (const e of isValidPortName(p.targetPort))
          errs.push(field.invalid(`${path}.targetPort`, p.targetPort, e));
      }
      if (p.nodePort && (spec.type === "ClusterIP" || spec.type === "ExternalName")) {
        errs.push(field.forbidden(`${path}.nodePort`, "may not be used when `type` is 'ClusterIP'"));
      }
    });
    if (spec.clusterIp && spec.clusterIp !== "None") {
      for (const e of isValidIP(spec.clusterIp))
        errs.push(field.invalid("spec.clusterIP", spec.clusterIp, e));
    }
    return errs;
  },
  validateUpdate(svc, old) {
    const errs = [...serviceStrategy.validate(svc), ...validateObjectMetaUpdate(svc.metadata, old.metadata)];
    if (old.spec?.clusterIp && svc.spec?.clusterIp && svc.spec.clusterIp !== old.spec.clusterIp) {
      errs.push(field.invalid("spec.clusterIP", svc.spec.clusterIp, "field is immutable"));
    }
    return errs;
  },
});

export const endpointsStrategy = simple<Endpoints>({
  validate(ep) {
    const errs = validateObjectMeta(ep.metadata, true);
    ep.subsets.forEach((s, i) => {
      [...s.addresses, ...s.notReadyAddresses].forEach((a, j) => {
        for (const e of isValidIP(a.ip))
          errs.push(field.invalid(`subsets[${i}].addresses[${j}].ip`, a.ip, e));
      });
      s.ports.forEach((p, j) => {
        for (const e of isValidPortNum(p.port))
          errs.push(field.invalid(`subsets[${i}].ports[${j}].port`, p.port, e));
      });
    });
    return errs;
  },
});

export const eventStrategy = simple<Event>({
  applyDefaults(ev) {
    if (ev.count === 0) ev.count = 1;
    ev.type ||= "Normal";
  },
  validate(ev) {
    const errs = validateObjectMeta(ev.metadata, true);
    if (!["Normal", "Warning"].includes(ev.type))
      errs.push(field.notSupported("type", ev.type, ["Normal", "Warning"]));
    if (!ev.involvedObject) errs.push(field.required("involvedObject", ""));
    return errs;
  },
  selectableFields: (ev) => ({
    "involvedObject.kind": ev.involvedObject?.kind ?? "",
    "involvedObject.namespace": ev.involvedObject?.namespace ?? "",
    "involvedObject.name": ev.involvedObject?.name ?? "",
    "involvedObject.uid": ev.involvedObject?.uid ?? "",
    "involvedObject.apiVersion": ev.involvedObject?.apiVersion ?? "",
    "involvedObject.resourceVersion": ev.involvedObject?.resourceVersion ?? "",
    "involvedObject.fieldPath": ev.involvedObject?.fieldPath ?? "",
    reason: ev.reason,
    reportingComponent: ev.reportingComponent,
    source: ev.source?.component ?? "",
    type: ev.type,
  }),
});

function validateDataKeys(keys: readonly string[], path: string, size: number): FieldError[] {
  const errs: FieldError[] = [];
  for (const k of keys) for (const e of isConfigMapKey(k)) errs.push(field.invalid(path, k, e));
  if (size > MAX_DATA_BYTES) errs.push(field.tooLong(path, MAX_DATA_BYTES));
  return errs;
}

function immutableData(
  obj: { immutable?: boolean | undefined },
  old: { immutable?: boolean | undefined },
  same: boolean,
): FieldError[] {
  const errs: FieldError[] = [];
  if (old.immutable && !same)
    errs.push(field.forbidden("data", "field is immutable when `immutable` is set"));
  if (old.immutable && !obj.immutable)
    errs.push(field.forbidden("immutable", "field is immutable when `immutable` is set"));
  return errs;
}

export const configMapStrategy: Strategy<ConfigMap> = simple<ConfigMap>({
  validate(cm) {
    const errs = validateObjectMeta(cm.metadata, true);
    let size = 0;
    for (const [k, v] of Object.entries(cm.data)) size += k.length + v.length;
    for (const [k, v] of Object.entries(cm.binaryData)) {
      size += k.length + v.length;
      if (k in cm.data) errs.push(field.invalid("binaryData", k, "duplicate of key present in data"));
    }
    errs.push(...validateDataKeys([...Object.keys(cm.data), ...Object.keys(cm.binaryData)], "data", size));
    return errs;
  },
  validateUpdate(cm, old) {
    const same =
      JSON.stringify(cm.data) === JSON.stringify(old.data) &&
      JSON.stringify(cm.binaryData) === JSON.stringify(old.binaryData);
    return [
      ...configMapStrategy.validate(cm),
      ...validateObjectMetaUpdate(cm.metadata, old.metadata),
      ...immutableData(cm, old, same),
    ];
  },
});

export const secretStrategy: Strategy<Secret> = simple<Secret>({
  applyDefaults(s) {
    s.type ||= "Opaque";
  },
  validate(s) {
    const errs = validateObjectMeta(s.metadata, true);
    let size = 0;
    for (const [k, v] of Object.entries(s.data)) size += k.length + v.length;
    for (const [k, v] of Object.entries(s.stringData)) size += k.length + v.length;
    errs.push(...validateDataKeys([...Object.keys(s.data), ...Object.keys(s.stringData)], "data", size));
    return errs;
  },
  validateUpdate(s, old) {
    const errs = [...secretStrategy.validate(s), ...validateObjectMetaUpdate(s.metadata, old.metadata)];
    if (s.type !== old.type) errs.push(field.invalid("type", s.type, "field is immutable"));
    const same = Buffer.from(
      JSON.stringify(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])),
    ).equals(
      Buffer.from(
        JSON.stringify(Object.entries(old.data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])),
      ),
    );
    return [...errs, ...immutableData(s, old, same)];
  },
  selectableFields: (s) => ({ type: s.type }),
});

export const leaseStrategy = simple<Lease>({
  validate(lease) {
    const errs = validateObjectMeta(lease.metadata, true);
    const d = lease.spec?.leaseDurationSeconds;
    if (d !== undefined && d <= 0)
      errs.push(field.invalid("spec.leaseDurationSeconds", d, "must be greater than 0"));
    const t = lease.spec?.leaseTransitions;
    if (t !== undefined && t < 0)
      errs.push(field.invalid("spec.leaseTransitions", t, "must be greater than or equal to 0"));
    return errs;
  },
});
