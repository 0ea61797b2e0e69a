import { isIPv4 } from "node:net";
import {
  FieldError,
  field,
  isConfigMapKey,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidCIDR,
  isValidIP,
  isValidPortName,
  isValidPortNum,
} from "@tskube/machinery";
import type { Lease } from "../gen/tskube/v1/coordination.js";
import {
  type ConfigMap,
  type EndpointAddress,
  type Endpoints,
  type Event,
  type Namespace,
  NamespaceStatus,
  type Node,
  type Secret,
  type Service,
} from "../gen/tskube/v1/core.js";
import { defineStrategy } from "./define-strategy.js";
import {
  byteLength,
  dns1035Label,
  dns1123Label,
  immutableField,
  validateLabels,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from "./meta.js";
import type { Strategy } from "./types.js";

/** core.MaxSecretSize: ConfigMaps and Secrets hold at most 1 MiB of values. */
const MAX_DATA_BYTES = 1024 * 1024;
const PROTOCOLS = ["SCTP", "TCP", "UDP"];
const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

const nonNegative = (path: string, v: number | undefined): FieldError[] =>
  v !== undefined && v < 0 ? [field.invalid(path, v, "must be greater than or equal to 0")] : [];

const NAMESPACE_PHASES = ["Active", "Terminating"];
const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

export const namespaceStrategy = defineStrategy<Namespace>({
  applyDefaults(ns) {
    ns.spec ??= { $type: "tskube.v1.NamespaceSpec", finalizers: [] };
    // The "kubernetes" finalizer lets the namespace controller empty the namespace before it goes.
    if (!ns.metadata?.resourceVersion && !ns.metadata?.deletionTimestamp && ns.spec.finalizers.length === 0) {
      ns.spec.finalizers = ["kubernetes"];
    }
    if (ns.metadata?.name) ns.metadata.labels[NAMESPACE_NAME_LABEL] = ns.metadata.name;
  },
  validate(ns) {
    const errs = validateObjectMeta(ns.metadata, false, dns1123Label);
    ns.spec?.finalizers.forEach((f, i) => {
      for (const e of isQualifiedName(f)) errs.push(field.invalid(`spec.finalizers[${i}]`, f, e));
    });
    return errs;
  },
  validateStatusUpdate(ns, old) {
    const errs = validateObjectMetaUpdate(ns.metadata, old.metadata);
    const phase = ns.status?.phase;
    if (phase && !NAMESPACE_PHASES.includes(phase))
      errs.push(field.notSupported("status.phase", phase, NAMESPACE_PHASES));
    return errs;
  },
  selectableFields: (ns) => ({ "status.phase": ns.status?.phase ?? "" }),
  // A namespace is Active from birth; the client's status otherwise stands.
  prepareForCreate(ns) {
    ns.status = NamespaceStatus.fromPartial({ ...(ns.status ?? {}), phase: "Active" });
  },
  // Kubernetes' namespace REST Delete: the phase says the namespace controller is emptying it.
  markTerminating(ns) {
    ns.status = NamespaceStatus.fromPartial({ ...(ns.status ?? {}), phase: "Terminating" });
  },
  // The namespace stays until the namespace controller has removed every spec finalizer.
  blocksRemoval: (ns) => (ns.spec?.finalizers.length ?? 0) > 0,
});

export const nodeStrategy: Strategy<Node> = defineStrategy<Node>({
  validate(node) {
    const errs = validateObjectMeta(node.metadata, false);
    const spec = node.spec;
    const seen = new Set<string>();
    spec?.taints.forEach((t, i) => {
      const p = `spec.taints[${i}]`;
      if (!t.key) errs.push(field.required(`${p}.key`, ""));
      else for (const e of isQualifiedName(t.key)) errs.push(field.invalid(`${p}.key`, t.key, e));
      if (!t.effect) errs.push(field.required(`${p}.effect`, ""));
      else if (!TAINT_EFFECTS.includes(t.effect))
        errs.push(field.notSupported(`${p}.effect`, t.effect, TAINT_EFFECTS));
      const key = `${t.key}:${t.effect}`;
      if (seen.has(key))
        errs.push(new FieldError("Duplicate", p, "taints must be unique by key and effect pair", key, true));
      seen.add(key);
    });
    if (spec?.podCidr)
      for (const e of isValidCIDR(spec.podCidr)) errs.push(field.invalid("spec.podCIDR", spec.podCidr, e));
    spec?.podCidrs.forEach((c, i) => {
      for (const e of isValidCIDR(c)) errs.push(field.invalid(`spec.podCIDRs[${i}]`, c, e));
    });
    return errs;
  },
  validateUpdate(node, old) {
    const errs = [...nodeStrategy.validate(node), ...validateObjectMetaUpdate(node.metadata, old.metadata)];
    // A pod CIDR is assigned once (by the node IPAM controller or the kubelet) and then kept.
    if (old.spec?.podCidr && node.spec?.podCidr !== old.spec.podCidr)
      errs.push(
        field.forbidden("spec.podCIDR", 'node updates may not change podCIDR except from "" to valid'),
      );
    if (old.spec?.providerId && node.spec?.providerId !== old.spec.providerId)
      errs.push(
        field.forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'),
      );
    return errs;
  },
  validateStatusUpdate(node, old) {
    const errs = validateObjectMetaUpdate(node.metadata, old.metadata);
    node.status?.addresses.forEach((a, i) => {
      if (!a.address) errs.push(field.required(`status.addresses[${i}].address`, ""));
    });
    return errs;
  },
  selectableFields: (node) => ({ "spec.unschedulable": String(node.spec?.unschedulable ?? false) }),
  // The kubelet registers its Node with capacity and addresses already in the status.
  prepareForCreate() {},
});

// Kubernetes keeps these in sets and prints them sorted.
const SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const AFFINITIES = ["ClientIP", "None"];
const TRAFFIC_POLICIES = ["Cluster", "Local"];
const IP_FAMILY_POLICIES = ["PreferDualStack", "RequireDualStack", "SingleStack"];
const IP_FAMILIES = ["IPv4", "IPv6"];

const ipFamilyOf = (ip: string) => (isIPv4(ip) ? "IPv4" : "IPv6");

export const serviceStrategy: Strategy<Service> = defineStrategy<Service>({
  applyDefaults(svc) {
    const spec = svc.spec;
    if (!spec) return;
    spec.type ||= "ClusterIP";
    spec.sessionAffinity ||= "None";
    if (spec.sessionAffinity === "ClientIP") {
      spec.sessionAffinityConfig ??= { $type: "tskube.v1.SessionAffinityConfig", clientIp: undefined };
      spec.sessionAffinityConfig.clientIp ??= {
        $type: "tskube.v1.ClientIPConfig",
        timeoutSeconds: undefined,
      };
      spec.sessionAffinityConfig.clientIp.timeoutSeconds ??= 10800;
    }
    if (spec.type === "NodePort" || spec.type === "LoadBalancer") spec.externalTrafficPolicy ||= "Cluster";
    if (spec.type === "LoadBalancer") spec.allocateLoadBalancerNodePorts ??= true;
    if (spec.type !== "ExternalName") {
      spec.internalTrafficPolicy ||= "Cluster";
      // The families follow the addresses already chosen; the allocator fills in the rest.
      if (spec.clusterIp && spec.clusterIps.length === 0) spec.clusterIps = [spec.clusterIp];
      const ips = spec.clusterIps.filter((ip) => isValidIP(ip).length === 0);
      if (spec.ipFamilies.length === 0 && ips.length > 0) spec.ipFamilies = ips.map(ipFamilyOf);
      if (!spec.ipFamilyPolicy && (spec.clusterIp !== "None" || Object.keys(spec.selector).length > 0))
        spec.ipFamilyPolicy = spec.ipFamilies.length > 1 ? "RequireDualStack" : "SingleStack";
    }
    for (const p of spec.ports) {
      p.protocol ||= "TCP";
      if (!p.targetPort || p.targetPort === "0") p.targetPort = String(p.port);
    }
  },
  validate(svc) {
    const errs = validateObjectMeta(svc.metadata, true, dns1035Label);
    const spec = svc.spec;
    if (!spec) return [...errs, field.required("spec", "")];
    if (!spec.type) errs.push(field.required("spec.type", ""));
    else if (!SERVICE_TYPES.includes(spec.type))
      errs.push(field.notSupported("spec.type", spec.type, SERVICE_TYPES));
    if (!AFFINITIES.includes(spec.sessionAffinity))
      errs.push(field.notSupported("spec.sessionAffinity", spec.sessionAffinity, AFFINITIES));
    const headless = spec.clusterIp === "None";
    if (spec.type === "ExternalName") {
      if (spec.clusterIp)
        errs.push(field.forbidden("spec.clusterIP", "may not be set for ExternalName services"));
      if (!spec.externalName) errs.push(field.required("spec.externalName", ""));
      else
        for (const e of isDNS1123Subdomain(spec.externalName.replace(/\.$/, "")))
          errs.push(field.invalid("spec.externalName", spec.externalName, e));
    } else if (spec.ports.length === 0 && !headless) {
      errs.push(field.required("spec.ports", ""));
    }
    if (headless && spec.type !== "ClusterIP" && spec.type !== "ExternalName") {
      errs.push(
        field.invalid(
          "spec.clusterIPs[0]",
          "None",
          "may not be set to 'None' for LoadBalancer or NodePort services",
        ),
      );
    }
    const names = new Set<string>();
    const keys = new Set<string>();
    spec.ports.forEach((p, i) => {
      const path = `spec.ports[${i}]`;
      if (spec.ports.length > 1 && !p.name) errs.push(field.required(`${path}.name`, ""));
      if (p.name) {
        for (const e of dns1123Label(p.name)) errs.push(field.invalid(`${path}.name`, p.name, e));
        if (names.has(p.name)) errs.push(field.duplicate(`${path}.name`, p.name));
        names.add(p.name);
      }
      for (const e of isValidPortNum(p.port)) errs.push(field.invalid(`${path}.port`, p.port, e));
      if (!p.protocol) errs.push(field.required(`${path}.protocol`, ""));
      else if (!PROTOCOLS.includes(p.protocol))
        errs.push(field.notSupported(`${path}.protocol`, p.protocol, PROTOCOLS));
      if (/^-?\d+$/.test(p.targetPort)) {
        for (const e of isValidPortNum(Number(p.targetPort)))
          errs.push(field.invalid(`${path}.targetPort`, Number(p.targetPort), e));
      } else if (p.targetPort) {
        for (const e of isValidPortName(p.targetPort))
          errs.push(field.invalid(`${path}.targetPort`, p.targetPort, e));
      }
      if (p.nodePort) {
        if (spec.type === "ClusterIP")
          errs.push(field.forbidden(`${path}.nodePort`, "may not be used when `type` is 'ClusterIP'"));
        else
          for (const e of isValidPortNum(p.nodePort))
            errs.push(field.invalid(`${path}.nodePort`, p.nodePort, e));
      }
      const key = `${p.protocol}/${p.port}`;
      if (keys.has(key)) errs.push(field.duplicate(path, key));
      keys.add(key);
    });
    errs.push(...validateLabels(spec.selector, "spec.selector"));
    if (spec.clusterIp && !headless)
      for (const e of isValidIP(spec.clusterIp))
        errs.push(field.invalid("spec.clusterIP", spec.clusterIp, e));
    spec.clusterIps.forEach((ip, i) => {
      if (ip !== "None")
        for (const e of isValidIP(ip)) errs.push(field.invalid(`spec.clusterIPs[${i}]`, ip, e));
    });
    if (spec.clusterIps.length > 0 && spec.clusterIp && spec.clusterIps[0] !== spec.clusterIp)
      errs.push(
        field.invalid(
          "spec.clusterIPs",
          spec.clusterIps,
          "must be empty or the first value must match spec.clusterIP",
        ),
      );
    spec.externalIps.forEach((ip, i) => {
      for (const e of isValidIP(ip)) errs.push(field.invalid(`spec.externalIPs[${i}]`, ip, e));
    });
    spec.loadBalancerSourceRanges.forEach((r, i) => {
      for (const e of isValidCIDR(r)) errs.push(field.invalid(`spec.loadBalancerSourceRanges[${i}]`, r, e));
    });
    if (spec.externalTrafficPolicy) {
      if (spec.type !== "NodePort" && spec.type !== "LoadBalancer")
        errs.push(
          field.invalid(
            "spec.externalTrafficPolicy",
            spec.externalTrafficPolicy,
            "may only be set when `type` is 'NodePort' or 'LoadBalancer'",
          ),
        );
      else if (!TRAFFIC_POLICIES.includes(spec.externalTrafficPolicy))
        errs.push(
          field.notSupported("spec.externalTrafficPolicy", spec.externalTrafficPolicy, TRAFFIC_POLICIES),
        );
    }
    if (spec.internalTrafficPolicy && !TRAFFIC_POLICIES.includes(spec.internalTrafficPolicy))
      errs.push(
        field.notSupported("spec.internalTrafficPolicy", spec.internalTrafficPolicy, TRAFFIC_POLICIES),
      );
    if (spec.ipFamilyPolicy && !IP_FAMILY_POLICIES.includes(spec.ipFamilyPolicy))
      errs.push(field.notSupported("spec.ipFamilyPolicy", spec.ipFamilyPolicy, IP_FAMILY_POLICIES));
    spec.ipFamilies.forEach((f, i) => {
      if (!IP_FAMILIES.includes(f)) errs.push(field.notSupported(`spec.ipFamilies[${i}]`, f, IP_FAMILIES));
    });
    const timeout = spec.sessionAffinityConfig?.clientIp?.timeoutSeconds;
    if (timeout !== undefined && (timeout <= 0 || timeout > 86400))
      errs.push(
        field.invalid(
          "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
          timeout,
          "must be greater than 0 and less than 86400",
        ),
      );
    return errs;
  },
  validateUpdate(svc, old) {
    const errs = [...serviceStrategy.validate(svc), ...validateObjectMetaUpdate(svc.metadata, old.metadata)];
    // The address stays for the service's life unless it becomes (or stops being) an ExternalName.
    const externalName = svc.spec?.type === "ExternalName" || old.spec?.type === "ExternalName";
    if (!externalName && old.spec?.clusterIp && svc.spec?.clusterIp !== old.spec.clusterIp)
      errs.push(...immutableField(svc.spec?.clusterIp, old.spec.clusterIp, "spec.clusterIP"));
    return errs;
  },
  selectableFields: (svc) => ({
    "spec.clusterIP": svc.spec?.clusterIp ?? "",
    "spec.type": svc.spec?.type ?? "",
  }),
});

function validateEndpointAddress(a: EndpointAddress, path: string): FieldError[] {
  const errs = isValidIP(a.ip).map((e) => field.invalid(`${path}.ip`, a.ip, e));
  if (a.hostname)
    for (const e of dns1123Label(a.hostname)) errs.push(field.invalid(`${path}.hostname`, a.hostname, e));
  if (a.nodeName)
    for (const e of isDNS1123Subdomain(a.nodeName))
      errs.push(field.invalid(`${path}.nodeName`, a.nodeName, e));
  return errs;
}

export const endpointsStrategy = defineStrategy<Endpoints>({
  validate(ep) {
    const errs = validateObjectMeta(ep.metadata, true);
    ep.subsets.forEach((s, i) => {
      const sp = `subsets[${i}]`;
      if (s.addresses.length === 0 && s.notReadyAddresses.length === 0)
        errs.push(field.required(sp, "must specify `addresses` or `notReadyAddresses`"));
      s.addresses.forEach((a, j) => {
        errs.push(...validateEndpointAddress(a, `${sp}.addresses[${j}]`));
      });
      s.notReadyAddresses.forEach((a, j) => {
        errs.push(...validateEndpointAddress(a, `${sp}.notReadyAddresses[${j}]`));
      });
      const names = new Set<string>();
      s.ports.forEach((p, j) => {
        const pp = `${sp}.ports[${j}]`;
        if (s.ports.length > 1 && !p.name) errs.push(field.required(`${pp}.name`, ""));
        if (p.name) {
          for (const e of dns1123Label(p.name)) errs.push(field.invalid(`${pp}.name`, p.name, e));
          if (names.has(p.name)) errs.push(field.duplicate(`${pp}.name`, p.name));
          names.add(p.name);
        }
        for (const e of isValidPortNum(p.port)) errs.push(field.invalid(`${pp}.port`, p.port, e));
        if (!p.protocol) errs.push(field.required(`${pp}.protocol`, ""));
        else if (!PROTOCOLS.includes(p.protocol))
          errs.push(field.notSupported(`${pp}.protocol`, p.protocol, PROTOCOLS));
      });
    });
    return errs;
  },
  applyDefaults(ep) {
    for (const s of ep.subsets) for (const p of s.ports) p.protocol ||= "TCP";
  },
});

const EVENT_TYPES = ["Normal", "Warning"];

export const eventStrategy = defineStrategy<Event>({
  applyDefaults(ev) {
    if (ev.count === 0) ev.count = 1;
    ev.type ||= "Normal";
  },
  validate(ev) {
    const errs = validateObjectMeta(ev.metadata, true);
    const ns = ev.metadata?.namespace ?? "";
    const involved = ev.involvedObject;
    if (!involved) errs.push(field.required("involvedObject", ""));
    // Events about cluster-scoped objects live in "default" (or nowhere); others beside their object.
    else if (!involved.namespace ? ns !== "" && ns !== "default" : ns !== involved.namespace) {
      errs.push(
        field.invalid("involvedObject.namespace", involved.namespace, "does not match event.namespace"),
      );
    }
    if (!EVENT_TYPES.includes(ev.type)) errs.push(field.notSupported("type", ev.type, EVENT_TYPES));
    errs.push(...nonNegative("count", ev.count));
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

function validateKeys(keys: Iterable<string>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const k of keys) for (const e of isConfigMapKey(k)) errs.push(field.invalid(`${path}[${k}]`, k, e));
  return errs;
}

/** Once `immutable` is set, neither the data nor the flag may change (Kubernetes 1.21+). */
function immutableData(
  obj: { immutable?: boolean | undefined },
  old: { immutable?: boolean | undefined },
  sameData: boolean,
): FieldError[] {
  const errs: FieldError[] = [];
  if (!old.immutable) return errs;
  if (!sameData) errs.push(field.forbidden("data", "field is immutable when `immutable` is set"));
  if (!obj.immutable) errs.push(field.forbidden("immutable", "field is immutable when `immutable` is set"));
  return errs;
}

const sameBytes = (a: Uint8Array, b: Uint8Array | undefined) =>
  b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);

function sameByteMap(a: Record<string, Uint8Array>, b: Record<string, Uint8Array>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => sameBytes(a[k]!, b[k]));
}

function sameStringMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

export const configMapStrategy: Strategy<ConfigMap> = defineStrategy<ConfigMap>({
  validate(cm) {
    const errs = validateObjectMeta(cm.metadata, true);
    let size = 0;
    for (const [k, v] of Object.entries(cm.data)) {
      size += byteLength(v);
      if (k in cm.binaryData)
        errs.push(field.invalid(`data[${k}]`, k, "duplicate of key present in binaryData"));
    }
    for (const [k, v] of Object.entries(cm.binaryData)) {
      size += v.length;
      if (k in cm.data) errs.push(field.invalid(`binaryData[${k}]`, k, "duplicate of key present in data"));
    }
    errs.push(
      ...validateKeys(Object.keys(cm.data), "data"),
      ...validateKeys(Object.keys(cm.binaryData), "binaryData"),
    );
    if (size > MAX_DATA_BYTES) errs.push(field.tooLong("data", MAX_DATA_BYTES));
    return errs;
  },
  validateUpdate(cm, old) {
    const same = sameStringMap(cm.data, old.data) && sameByteMap(cm.binaryData, old.binaryData);
    return [
      ...configMapStrategy.validate(cm),
      ...validateObjectMetaUpdate(cm.metadata, old.metadata),
      ...immutableData(cm, old, same),
    ];
  },
});

/** Keys some secret types must carry (ValidateSecret). */
const REQUIRED_SECRET_KEYS: Record<string, string[]> = {
  "kubernetes.io/dockercfg": [".dockercfg"],
  "kubernetes.io/dockerconfigjson": [".dockerconfigjson"],
  "kubernetes.io/ssh-auth": ["ssh-privatekey"],
  "kubernetes.io/tls": ["tls.crt", "tls.key"],
};

export const secretStrategy: Strategy<Secret> = defineStrategy<Secret>({
  applyDefaults(s) {
    s.type ||= "Opaque";
  },
  validate(s) {
    const errs = validateObjectMeta(s.metadata, true);
    // stringData is folded into data before validation; whatever is left still counts.
    const keys = new Set([...Object.keys(s.data), ...Object.keys(s.stringData)]);
    let size = 0;
    for (const v of Object.values(s.data)) size += v.length;
    for (const [k, v] of Object.entries(s.stringData)) if (!(k in s.data)) size += byteLength(v);
    errs.push(...validateKeys(keys, "data"));
    if (size > MAX_DATA_BYTES) errs.push(field.tooLong("data", MAX_DATA_BYTES));
    for (const k of REQUIRED_SECRET_KEYS[s.type] ?? [])
      if (!keys.has(k)) errs.push(field.required(`data[${k}]`, ""));
    if (s.type === "kubernetes.io/basic-auth" && !keys.has("username") && !keys.has("password"))
      errs.push(field.required("data[username]", ""), field.required("data[password]", ""));
    if (
      s.type === "kubernetes.io/service-account-token" &&
      !s.metadata?.annotations["kubernetes.io/service-account.name"]
    )
      errs.push(field.required("metadata.annotations[kubernetes.io/service-account.name]", ""));
    return errs;
  },
  validateUpdate(s, old) {
    return [
      ...secretStrategy.validate(s),
      ...validateObjectMetaUpdate(s.metadata, old.metadata),
      ...immutableField(s.type, old.type, "type"),
      ...immutableData(s, old, sameByteMap(s.data, old.data)),
    ];
  },
  selectableFields: (s) => ({ type: s.type }),
  prepareForCreate: foldStringData,
  prepareForUpdate: foldStringData,
});

/** Secret.stringData is write-only: it is merged into data (Kubernetes' secret strategy). */
function foldStringData(s: Secret): void {
  for (const [k, v] of Object.entries(s.stringData ?? {})) s.data[k] = Buffer.from(v);
  s.stringData = {};
}

export const leaseStrategy = defineStrategy<Lease>({
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
