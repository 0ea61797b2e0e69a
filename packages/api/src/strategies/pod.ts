import {
  type FieldError,
  field,
  isConfigMapKey,
  isEnvVarName,
  isQualifiedName,
  isValidIP,
  isValidLabelValue,
  isValidPortName,
  isValidPortNum,
  parseQuantity,
  type Quantity,
} from "@tskube/machinery";
import type {
  Affinity,
  Container,
  LifecycleHandler,
  NodeSelectorRequirement,
  Pod,
  PodSpec,
  Probe,
  Toleration,
  Volume,
} from "../gen/tskube/v1/core.js";
import { canonicalJson } from "./canonical.js";
import { defineStrategy } from "./define-strategy.js";
import {
  dns1123Label,
  dns1123Subdomain,
  validateLabels,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from "./meta.js";
import { validateLabelSelector } from "./selector.js";
import type { Strategy } from "./types.js";

// Kubernetes keeps some of these in sets and prints them sorted, others in lists in their own order.
const RESTART_POLICIES = ["Always", "OnFailure", "Never"];
const DNS_POLICIES = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
const PULL_POLICIES = ["Always", "IfNotPresent", "Never"];
const PROTOCOLS = ["SCTP", "TCP", "UDP"];
const TERMINATION_MESSAGE_POLICIES = ["File", "FallbackToLogsOnError"];
const TOLERATION_OPERATORS = ["Equal", "Exists"];
const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
const NODE_SELECTOR_OPERATORS = ["DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn"];
const URI_SCHEMES = ["HTTP", "HTTPS"];
const POD_PHASES = ["Pending", "Running", "Succeeded", "Failed", "Unknown"];
const NATIVE_RESOURCES = ["cpu", "memory", "ephemeral-storage"];

const nonNegative = (path: string, v: number | undefined): FieldError[] =>
  v !== undefined && v < 0 ? [field.invalid(path, v, "must be greater than or equal to 0")] : [];

/** The tag of an image reference ("" when untagged; digests count as pinned). */
function imageTag(image: string): string {
  const name = image.slice(image.lastIndexOf("/") + 1);
  if (name.includes("@")) return "@digest";
  const colon = name.lastIndexOf(":");
  return colon >= 0 ? name.slice(colon + 1) : "";
}

function defaultHandler(h: { httpGet?: { path: string; scheme: string } | undefined } | undefined): void {
  if (h?.httpGet) {
    h.httpGet.path ||= "/";
    h.httpGet.scheme ||= "HTTP";
  }
}

/** Kubernetes' probe periodSeconds default; the apiserver's timing profile may set another. */
export const DEFAULT_PROBE_PERIOD_SECONDS = 10;
let probePeriodSeconds = DEFAULT_PROBE_PERIOD_SECONDS;

/**
 * Sets the periodSeconds an absent probe period gets, for the whole process: the apiserver calls
 * it once at start with --default-probe-period-seconds (its timing profile), so the fast profile
 * probes every 2 s unless a manifest says otherwise. Kubernetes has no such flag (always 10).
 */
export function setDefaultProbePeriodSeconds(seconds: number): void {
  if (!Number.isSafeInteger(seconds) || seconds < 1)
    throw new Error(`probe periodSeconds default must be a whole number of seconds >= 1, got ${seconds}`);
  probePeriodSeconds = seconds;
}

function defaultProbe(p: Probe | undefined): void {
  if (!p) return;
  p.timeoutSeconds ||= 1;
  p.periodSeconds ||= probePeriodSeconds;
  p.successThreshold ||= 1;
  p.failureThreshold ||= 3;
  defaultHandler(p);
}

function defaultContainer(c: Container): void {
  if (!c.imagePullPolicy) {
    const tag = imageTag(c.image);
    c.imagePullPolicy = tag === "" || tag === "latest" ? "Always" : "IfNotPresent";
  }
  c.terminationMessagePath ||= "/dev/termination-log";
  c.terminationMessagePolicy ||= "File";
  for (const p of c.ports) p.protocol ||= "TCP";
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  defaultHandler(c.lifecycle?.postStart);
  defaultHandler(c.lifecycle?.preStop);
  // Limits without requests: the requests default to the limits (SetDefaults_Pod).
  if (c.resources) {
    for (const [k, v] of Object.entries(c.resources.limits)) {
      if (!(k in c.resources.requests)) c.resources.requests[k] = v;
    }
  }
}

/** SetDefaults_PodSpec and friends; also applied to the pod templates of controllers. */
export function defaultPodSpec(spec: PodSpec | undefined): void {
  if (!spec) return;
  spec.restartPolicy ||= "Always";
  spec.dnsPolicy ||= "ClusterFirst";
  spec.schedulerName ||= "default-scheduler";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.enableServiceLinks ??= true;
  spec.securityContext ??= { $type: "tskube.v1.PodSecurityContext", supplementalGroups: [] };
  for (const c of [...spec.initContainers, ...spec.containers]) defaultContainer(c);
  for (const v of spec.volumes) {
    if (v.configMap) v.configMap.defaultMode ??= 0o644;
    if (v.secret) v.secret.defaultMode ??= 0o644;
  }
  for (const t of spec.tolerations) if (!t.operator && t.key) t.operator = "Equal";
}

/** ValidatePortNumOrName for IntOrString ports of probes and lifecycle hooks. */
function validatePortNumOrName(port: string, path: string): FieldError[] {
  if (/^-?\d+$/.test(port))
    return isValidPortNum(Number(port)).map((e) => field.invalid(path, Number(port), e));
  if (!port) return [field.required(path, "")];
  return isValidPortName(port).map((e) => field.invalid(path, port, e));
}

/** Exactly one handler among those given, each checked. */
function validateHandler(
  h: Pick<LifecycleHandler, "exec" | "httpGet" | "tcpSocket"> & { sleep?: LifecycleHandler["sleep"] },
  path: string,
): FieldError[] {
  const errs: FieldError[] = [];
  let handlers = 0;
  const one = (name: string) => {
    handlers++;
    if (handlers > 1)
      errs.push(field.forbidden(`${path}.${name}`, "may not specify more than 1 handler type"));
  };
  if (h.exec) {
    one("exec");
    if (h.exec.command.length === 0) errs.push(field.required(`${path}.exec.command`, ""));
  }
  if (h.httpGet) {
    one("httpGet");
    errs.push(...validatePortNumOrName(h.httpGet.port, `${path}.httpGet.port`));
    if (h.httpGet.scheme && !URI_SCHEMES.includes(h.httpGet.scheme))
      errs.push(field.notSupported(`${path}.httpGet.scheme`, h.httpGet.scheme, URI_SCHEMES));
  }
  if (h.tcpSocket) {
    one("tcpSocket");
    errs.push(...validatePortNumOrName(h.tcpSocket.port, `${path}.tcpSocket.port`));
  }
  if (h.sleep) {
    one("sleep");
    if (h.sleep.seconds <= 0)
      errs.push(field.invalid(`${path}.sleep.seconds`, h.sleep.seconds, "must be greater than 0"));
  }
  if (handlers === 0) errs.push(field.required(path, "must specify a handler type"));
  return errs;
}

function validateProbe(p: Probe | undefined, path: string, mustSucceedOnce: boolean): FieldError[] {
  if (!p) return [];
  const errs = validateHandler(p, path);
  errs.push(...nonNegative(`${path}.initialDelaySeconds`, p.initialDelaySeconds));
  errs.push(...nonNegative(`${path}.timeoutSeconds`, p.timeoutSeconds));
  errs.push(...nonNegative(`${path}.periodSeconds`, p.periodSeconds));
  errs.push(...nonNegative(`${path}.successThreshold`, p.successThreshold));
  errs.push(...nonNegative(`${path}.failureThreshold`, p.failureThreshold));
  // Liveness and startup probes cannot need more than one success: a restart would come first.
  if (mustSucceedOnce && p.successThreshold !== 1)
    errs.push(field.invalid(`${path}.successThreshold`, p.successThreshold, "must be 1"));
  if (p.terminationGracePeriodSeconds !== undefined && p.terminationGracePeriodSeconds <= 0)
    errs.push(
      field.invalid(
        `${path}.terminationGracePeriodSeconds`,
        p.terminationGracePeriodSeconds,
        "must be greater than 0",
      ),
    );
  return errs;
}

/** Standard names ("cpu", "memory", "hugepages-2Mi") or a domain-prefixed extended resource. */
function validateResourceName(name: string, path: string): FieldError[] {
  const msgs = isQualifiedName(name);
  if (msgs.length) return msgs.map((e) => field.invalid(path, name, e));
  const native = !name.includes("/") || name.startsWith("kubernetes.io/");
  if (native && !NATIVE_RESOURCES.includes(name) && !name.startsWith("hugepages-"))
    return [field.invalid(path, name, "must be a standard resource for containers")];
  return [];
}

function validateResources(c: Container, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const parsed: Record<"limits" | "requests", Record<string, Quantity>> = { limits: {}, requests: {} };
  for (const kind of ["limits", "requests"] as const) {
    for (const [name, value] of Object.entries(c.resources?.[kind] ?? {})) {
      const p = `${path}.resources.${kind}[${name}]`;
      errs.push(...validateResourceName(name, p));
      try {
        const q = parseQuantity(value);
        if (q.isNegative()) errs.push(field.invalid(p, value, "must be greater than or equal to 0"));
        else parsed[kind][name] = q;
      } catch (err) {
        errs.push(field.invalid(p, value, (err as Error).message));
      }
    }
  }
  for (const [name, req] of Object.entries(parsed.requests)) {
    const lim = parsed.limits[name];
    if (lim && req.cmp(lim) > 0) {
      errs.push(
        field.invalid(
          `${path}.resources.requests[${name}]`,
          req.toString(),
          `must be less than or equal to ${name} limit of ${lim.toString()}`,
        ),
      );
    }
  }
  return errs;
}

function validateEnv(c: Container, path: string): FieldError[] {
  const errs: FieldError[] = [];
  c.env.forEach((e, j) => {
    const ep = `${path}.env[${j}]`;
    if (!e.name) errs.push(field.required(`${ep}.name`, ""));
    else for (const msg of isEnvVarName(e.name)) errs.push(field.invalid(`${ep}.name`, e.name, msg));
    const from = e.valueFrom;
    if (!from) return;
    const sources = [from.fieldRef, from.resourceFieldRef, from.configMapKeyRef, from.secretKeyRef].filter(
      Boolean,
    ).length;
    if (e.value)
      errs.push(field.invalid(`${ep}.valueFrom`, "", "may not be specified when `value` is not empty"));
    if (sources === 0)
      errs.push(
        field.invalid(
          `${ep}.valueFrom`,
          "",
          "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
        ),
      );
    if (sources > 1)
      errs.push(field.invalid(`${ep}.valueFrom`, "", "may not have more than one field specified at a time"));
    if (from.fieldRef && !from.fieldRef.fieldPath)
      errs.push(field.required(`${ep}.valueFrom.fieldRef.fieldPath`, ""));
    for (const [name, ref] of [
      ["configMapKeyRef", from.configMapKeyRef],
      ["secretKeyRef", from.secretKeyRef],
    ] as const) {
      if (!ref) continue;
      if (!ref.name) errs.push(field.required(`${ep}.valueFrom.${name}.name`, ""));
      if (!ref.key) errs.push(field.required(`${ep}.valueFrom.${name}.key`, ""));
      else
        for (const msg of isConfigMapKey(ref.key))
          errs.push(field.invalid(`${ep}.valueFrom.${name}.key`, ref.key, msg));
    }
  });
  return errs;
}

function validateContainers(
  containers: readonly Container[],
  path: string,
  volumes: Set<string>,
  names: Set<string>,
  init: boolean,
): FieldError[] {
  const errs: FieldError[] = [];
  containers.forEach((c, i) => {
    const p = `${path}[${i}]`;
    if (!c.name) errs.push(field.required(`${p}.name`, ""));
    else {
      for (const e of dns1123Label(c.name)) errs.push(field.invalid(`${p}.name`, c.name, e));
      if (names.has(c.name)) errs.push(field.duplicate(`${p}.name`, c.name));
      names.add(c.name);
    }
    if (!c.image.trim()) errs.push(field.required(`${p}.image`, ""));
    if (!c.imagePullPolicy) errs.push(field.required(`${p}.imagePullPolicy`, ""));
    else if (!PULL_POLICIES.includes(c.imagePullPolicy))
      errs.push(field.notSupported(`${p}.imagePullPolicy`, c.imagePullPolicy, PULL_POLICIES));
    if (c.terminationMessagePolicy && !TERMINATION_MESSAGE_POLICIES.includes(c.terminationMessagePolicy))
      errs.push(
        field.notSupported(
          `${p}.terminationMessagePolicy`,
          c.terminationMessagePolicy,
          TERMINATION_MESSAGE_POLICIES,
        ),
      );
    const portNames = new Set<string>();
    c.ports.forEach((port, j) => {
      const pp = `${p}.ports[${j}]`;
      if (port.name) {
        for (const e of isValidPortName(port.name)) errs.push(field.invalid(`${pp}.name`, port.name, e));
        if (portNames.has(port.name)) errs.push(field.duplicate(`${pp}.name`, port.name));
        portNames.add(port.name);
      }
      if (port.containerPort === 0) errs.push(field.required(`${pp}.containerPort`, ""));
      else
        for (const e of isValidPortNum(port.containerPort))
          errs.push(field.invalid(`${pp}.containerPort`, port.containerPort, e));
      if (port.hostPort)
        for (const e of isValidPortNum(port.hostPort))
          errs.push(field.invalid(`${pp}.hostPort`, port.hostPort, e));
      if (!port.protocol) errs.push(field.required(`${pp}.protocol`, ""));
      else if (!PROTOCOLS.includes(port.protocol))
        errs.push(field.notSupported(`${pp}.protocol`, port.protocol, PROTOCOLS));
      if (port.hostIp)
        for (const e of isValidIP(port.hostIp)) errs.push(field.invalid(`${pp}.hostIP`, port.hostIp, e));
    });
    errs.push(...validateEnv(c, p));
    errs.push(...validateResources(c, p));
    const mountPaths = new Set<string>();
    c.volumeMounts.forEach((m, j) => {
      const mp = `${p}.volumeMounts[${j}]`;
      if (!m.name) errs.push(field.required(`${mp}.name`, ""));
      else if (!volumes.has(m.name)) errs.push(field.notFound(`${mp}.name`, m.name));
      if (!m.mountPath) errs.push(field.required(`${mp}.mountPath`, ""));
      else if (mountPaths.has(m.mountPath))
        errs.push(field.invalid(`${mp}.mountPath`, m.mountPath, "must be unique"));
      mountPaths.add(m.mountPath);
      if (m.subPath && (m.subPath.startsWith("/") || m.subPath.split("/").includes("..")))
        errs.push(field.invalid(`${mp}.subPath`, m.subPath, "must be a relative path without '..'"));
    });
    if (init) {
      // Init containers run to completion; probes and hooks would never apply.
      for (const name of ["livenessProbe", "readinessProbe", "startupProbe", "lifecycle"] as const) {
        if (c[name]) errs.push(field.forbidden(`${p}.${name}`, "may not be set for init containers"));
      }
      return;
    }
    errs.push(...validateProbe(c.livenessProbe, `${p}.livenessProbe`, true));
    errs.push(...validateProbe(c.readinessProbe, `${p}.readinessProbe`, false));
    errs.push(...validateProbe(c.startupProbe, `${p}.startupProbe`, true));
    if (c.lifecycle?.postStart)
      errs.push(...validateHandler(c.lifecycle.postStart, `${p}.lifecycle.postStart`));
    if (c.lifecycle?.preStop) errs.push(...validateHandler(c.lifecycle.preStop, `${p}.lifecycle.preStop`));
  });
  return errs;
}

function validateVolumes(
  volumes: readonly Volume[],
  path: string,
): { errs: FieldError[]; names: Set<string> } {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  volumes.forEach((v, i) => {
    const p = `${path}[${i}]`;
    if (!v.name) errs.push(field.required(`${p}.name`, ""));
    else {
      for (const e of dns1123Label(v.name)) errs.push(field.invalid(`${p}.name`, v.name, e));
      if (names.has(v.name)) errs.push(field.duplicate(`${p}.name`, v.name));
      names.add(v.name);
    }
    let sources = 0;
    const source = (name: string) => {
      sources++;
      if (sources > 1) errs.push(field.forbidden(`${p}.${name}`, "may not specify more than 1 volume type"));
    };
    if (v.emptyDir) {
      source("emptyDir");
      if (v.emptyDir.sizeLimit) {
        try {
          if (parseQuantity(v.emptyDir.sizeLimit).isNegative())
            errs.push(
              field.invalid(
                `${p}.emptyDir.sizeLimit`,
                v.emptyDir.sizeLimit,
                "must be greater than or equal to 0",
              ),
            );
        } catch (err) {
          errs.push(field.invalid(`${p}.emptyDir.sizeLimit`, v.emptyDir.sizeLimit, (err as Error).message));
        }
      }
    }
    if (v.hostPath) {
      source("hostPath");
      if (!v.hostPath.path) errs.push(field.required(`${p}.hostPath.path`, ""));
    }
    if (v.configMap) {
      source("configMap");
      if (!v.configMap.name) errs.push(field.required(`${p}.configMap.name`, ""));
    }
    if (v.secret) {
      source("secret");
      if (!v.secret.secretName) errs.push(field.required(`${p}.secret.secretName`, ""));
    }
    if (v.persistentVolumeClaim) {
      source("persistentVolumeClaim");
      if (!v.persistentVolumeClaim.claimName)
        errs.push(field.required(`${p}.persistentVolumeClaim.claimName`, ""));
    }
    if (v.downwardApi) source("downwardAPI");
    if (sources === 0) errs.push(field.required(p, "must specify a volume type"));
  });
  return { errs, names };
}

function validateTolerations(tolerations: readonly Toleration[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  tolerations.forEach((t, i) => {
    const p = `${path}[${i}]`;
    if (t.key) for (const e of isQualifiedName(t.key)) errs.push(field.invalid(`${p}.key`, t.key, e));
    if (!t.key && t.operator !== "Exists")
      errs.push(
        field.invalid(
          `${p}.operator`,
          t.operator,
          'operator must be Exists when `key` is empty, which means "match all values and all keys"',
        ),
      );
    if (t.tolerationSeconds !== undefined && t.effect !== "NoExecute")
      errs.push(
        field.invalid(`${p}.effect`, t.effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"),
      );
    if (t.operator === "Equal" || t.operator === "") {
      for (const e of isValidLabelValue(t.value)) errs.push(field.invalid(`${p}.value`, t.value, e));
    } else if (t.operator === "Exists") {
      if (t.value)
        errs.push(field.invalid(`${p}.operator`, t.value, "value must be empty when `operator` is 'Exists'"));
    } else errs.push(field.notSupported(`${p}.operator`, t.operator, TOLERATION_OPERATORS));
    if (t.effect && !TAINT_EFFECTS.includes(t.effect))
      errs.push(field.notSupported(`${p}.effect`, t.effect, TAINT_EFFECTS));
  });
  return errs;
}

function validateNodeSelectorRequirement(r: NodeSelectorRequirement, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const e of isQualifiedName(r.key)) errs.push(field.invalid(`${path}.key`, r.key, e));
  switch (r.operator) {
    case "In":
    case "NotIn":
      if (r.values.length === 0)
        errs.push(field.required(`${path}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
      break;
    case "Exists":
    case "DoesNotExist":
      if (r.values.length > 0)
        errs.push(
          field.forbidden(
            `${path}.values`,
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
          ),
        );
      break;
    case "Gt":
    case "Lt":
      if (r.values.length !== 1)
        errs.push(
          field.required(`${path}.values`, "must be specified single value when `operator` is 'Lt' or 'Gt'"),
        );
      else if (!/^-?\d+$/.test(r.values[0]!))
        errs.push(field.invalid(`${path}.values[0]`, r.values[0], "must be an integer"));
      break;
    default:
      errs.push(field.notSupported(`${path}.operator`, r.operator, NODE_SELECTOR_OPERATORS));
  }
  return errs;
}

function validateAffinity(a: Affinity | undefined, path: string): FieldError[] {
  if (!a) return [];
  const errs: FieldError[] = [];
  const na = a.nodeAffinity;
  if (na) {
    const req = na.requiredDuringSchedulingIgnoredDuringExecution;
    const rp = `${path}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`;
    if (req && req.nodeSelectorTerms.length === 0)
      errs.push(field.required(`${rp}.nodeSelectorTerms`, "must have at least one node selector term"));
    req?.nodeSelectorTerms.forEach((term, i) => {
      term.matchExpressions.forEach((e, j) => {
        errs.push(
          ...validateNodeSelectorRequirement(e, `${rp}.nodeSelectorTerms[${i}].matchExpressions[${j}]`),
        );
      });
    });
    na.preferredDuringSchedulingIgnoredDuringExecution.forEach((t, i) => {
      const pp = `${path}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[${i}]`;
      if (t.weight < 1 || t.weight > 100)
        errs.push(field.invalid(`${pp}.weight`, t.weight, "must be in the range 1-100"));
      t.preference?.matchExpressions.forEach((e, j) => {
        errs.push(...validateNodeSelectorRequirement(e, `${pp}.preference.matchExpressions[${j}]`));
      });
    });
  }
  for (const [name, pa] of [
    ["podAffinity", a.podAffinity],
    ["podAntiAffinity", a.podAntiAffinity],
  ] as const) {
    if (!pa) continue;
    const base = `${path}.${name}`;
    const terms = [
      ...pa.requiredDuringSchedulingIgnoredDuringExecution.map(
        (t, i) => [t, `${base}.requiredDuringSchedulingIgnoredDuringExecution[${i}]`] as const,
      ),
      ...pa.preferredDuringSchedulingIgnoredDuringExecution.map((w, i) => {
        const wp = `${base}.preferredDuringSchedulingIgnoredDuringExecution[${i}]`;
        if (w.weight < 1 || w.weight > 100)
          errs.push(field.invalid(`${wp}.weight`, w.weight, "must be in the range 1-100"));
        return [w.podAffinityTerm, `${wp}.podAffinityTerm`] as const;
      }),
    ];
    for (const [term, tp] of terms) {
      if (!term) continue;
      if (!term.topologyKey) errs.push(field.required(`${tp}.topologyKey`, "can not be empty"));
      else
        for (const e of isQualifiedName(term.topologyKey))
          errs.push(field.invalid(`${tp}.topologyKey`, term.topologyKey, e));
      if (term.labelSelector) errs.push(...validateLabelSelector(term.labelSelector, `${tp}.labelSelector`));
    }
  }
  return errs;
}

/** ValidatePodSpec at `path` ("spec" for pods, "spec.template.spec" for controllers). */
export function validatePodSpec(spec: PodSpec | undefined, path: string): FieldError[] {
  if (!spec) return [field.required(path, "")];
  const { errs, names: volumeNames } = validateVolumes(spec.volumes, `${path}.volumes`);
  const containerNames = new Set<string>();
  if (spec.containers.length === 0) errs.push(field.required(`${path}.containers`, ""));
  errs.push(
    ...validateContainers(spec.initContainers, `${path}.initContainers`, volumeNames, containerNames, true),
  );
  errs.push(...validateContainers(spec.containers, `${path}.containers`, volumeNames, containerNames, false));
  if (!spec.restartPolicy) errs.push(field.required(`${path}.restartPolicy`, ""));
  else if (!RESTART_POLICIES.includes(spec.restartPolicy))
    errs.push(field.notSupported(`${path}.restartPolicy`, spec.restartPolicy, RESTART_POLICIES));
  if (!spec.dnsPolicy) errs.push(field.required(`${path}.dnsPolicy`, ""));
  else if (!DNS_POLICIES.includes(spec.dnsPolicy))
    errs.push(field.notSupported(`${path}.dnsPolicy`, spec.dnsPolicy, DNS_POLICIES));
  if (spec.dnsPolicy === "None" && !spec.dnsConfig)
    errs.push(field.required(`${path}.dnsConfig`, "must provide `dnsConfig` when `dnsPolicy` is None"));
  errs.push(...nonNegative(`${path}.terminationGracePeriodSeconds`, spec.terminationGracePeriodSeconds));
  if (
    spec.activeDeadlineSeconds !== undefined &&
    (spec.activeDeadlineSeconds < 1 || spec.activeDeadlineSeconds > 2147483647)
  )
    errs.push(
      field.invalid(
        `${path}.activeDeadlineSeconds`,
        spec.activeDeadlineSeconds,
        "must be between 1 and 2147483647, inclusive",
      ),
    );
  errs.push(...validateLabels(spec.nodeSelector, `${path}.nodeSelector`));
  if (spec.nodeName)
    for (const e of dns1123Subdomain(spec.nodeName))
      errs.push(field.invalid(`${path}.nodeName`, spec.nodeName, e));
  if (spec.serviceAccountName)
    for (const e of dns1123Subdomain(spec.serviceAccountName))
      errs.push(field.invalid(`${path}.serviceAccountName`, spec.serviceAccountName, e));
  if (spec.hostname)
    for (const e of dns1123Label(spec.hostname))
      errs.push(field.invalid(`${path}.hostname`, spec.hostname, e));
  if (spec.subdomain)
    for (const e of dns1123Label(spec.subdomain))
      errs.push(field.invalid(`${path}.subdomain`, spec.subdomain, e));
  if (spec.schedulerName)
    for (const e of dns1123Subdomain(spec.schedulerName))
      errs.push(field.invalid(`${path}.schedulerName`, spec.schedulerName, e));
  errs.push(...validateTolerations(spec.tolerations, `${path}.tolerations`));
  errs.push(...validateAffinity(spec.affinity, `${path}.affinity`));
  spec.hostAliases.forEach((h, i) => {
    for (const e of isValidIP(h.ip)) errs.push(field.invalid(`${path}.hostAliases[${i}].ip`, h.ip, e));
  });
  return errs;
}

/** The spec with everything a pod update may change blanked out, for comparison. */
function frozenView(spec: PodSpec | undefined): string {
  if (!spec) return "";
  return canonicalJson({
    ...spec,
    containers: spec.containers.map((c) => ({ ...c, image: "" })),
    initContainers: spec.initContainers.map((c) => ({ ...c, image: "" })),
    activeDeadlineSeconds: undefined,
    tolerations: [],
    // Binding a pending pod sets nodeName; the bound-once rule is checked separately.
    nodeName: "",
    // Kubernetes allows a negative grace period to be raised to 1.
    terminationGracePeriodSeconds: undefined,
  });
}

const tolerationKey = (t: Toleration) => JSON.stringify([t.key, t.operator, t.value, t.effect]);

/** Existing tolerations may only gain a (shorter) tolerationSeconds; new ones may be appended. */
function validateOnlyAddedTolerations(now: readonly Toleration[], old: readonly Toleration[]): FieldError[] {
  const current = new Map(now.map((t) => [tolerationKey(t), t]));
  for (const o of old) {
    const n = current.get(tolerationKey(o));
    if (!n || (o.tolerationSeconds !== undefined && n.tolerationSeconds === undefined)) {
      return [
        field.forbidden(
          "spec.tolerations",
          "existing toleration can not be modified except its tolerationSeconds",
        ),
      ];
    }
  }
  return [];
}

const POD_UPDATE_FORBIDDEN =
  "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

export const podStrategy: Strategy<Pod> = defineStrategy<Pod>({
  applyDefaults(pod) {
    defaultPodSpec(pod.spec);
  },
  validate(pod) {
    return [...validateObjectMeta(pod.metadata, true), ...validatePodSpec(pod.spec, "spec")];
  },
  validateUpdate(pod, old) {
    const errs = [
      ...validateObjectMeta(pod.metadata, true),
      ...validateObjectMetaUpdate(pod.metadata, old.metadata),
      ...validatePodSpec(pod.spec, "spec"),
    ];
    const spec = pod.spec;
    const before = old.spec;
    let frozenChanged = frozenView(spec) !== frozenView(before);
    if (spec && before) {
      const tgp = spec.terminationGracePeriodSeconds;
      const oldTgp = before.terminationGracePeriodSeconds;
      if (tgp !== oldTgp && !(oldTgp !== undefined && oldTgp < 0 && tgp === 1)) frozenChanged = true;
      const ads = spec.activeDeadlineSeconds;
      const oldAds = before.activeDeadlineSeconds;
      // activeDeadlineSeconds may be set, or shortened, never removed or lengthened.
      if (oldAds !== undefined && (ads === undefined || ads > oldAds))
        errs.push(
          field.invalid(
            "spec.activeDeadlineSeconds",
            ads ?? null,
            "must be less than or equal to previous value",
          ),
        );
      errs.push(...validateOnlyAddedTolerations(spec.tolerations, before.tolerations));
      if (before.nodeName && spec.nodeName !== before.nodeName)
        errs.push(field.invalid("spec.nodeName", spec.nodeName, "field is immutable once the pod is bound"));
    }
    if (frozenChanged) errs.push(field.forbidden("spec", POD_UPDATE_FORBIDDEN));
    return errs;
  },
  validateStatusUpdate(pod, old) {
    const errs = validateObjectMetaUpdate(pod.metadata, old.metadata);
    const s = pod.status;
    if (!s) return errs;
    if (s.phase && !POD_PHASES.includes(s.phase))
      errs.push(field.notSupported("status.phase", s.phase, POD_PHASES));
    if (s.podIp) for (const e of isValidIP(s.podIp)) errs.push(field.invalid("status.podIP", s.podIp, e));
    if (s.hostIp) for (const e of isValidIP(s.hostIp)) errs.push(field.invalid("status.hostIP", s.hostIp, e));
    if (s.nominatedNodeName)
      for (const e of dns1123Subdomain(s.nominatedNodeName))
        errs.push(field.invalid("status.nominatedNodeName", s.nominatedNodeName, e));
    // Status writes cannot bind: the spec (nodeName included) is the old one already.
    return errs;
  },
  selectableFields(pod) {
    return {
      "spec.nodeName": pod.spec?.nodeName ?? "",
      "spec.restartPolicy": pod.spec?.restartPolicy ?? "",
      "spec.schedulerName": pod.spec?.schedulerName ?? "",
      "spec.serviceAccountName": pod.spec?.serviceAccountName ?? "",
      "spec.hostNetwork": String(pod.spec?.hostNetwork ?? false),
      "status.phase": pod.status?.phase ?? "",
      "status.podIP": pod.status?.podIp ?? "",
      "status.nominatedNodeName": pod.status?.nominatedNodeName ?? "",
    };
  },
  /**
   * A pod bound to a node gets its grace period (the kubelet stops it, then deletes with 0); an
   * unscheduled or finished pod goes at once.
   */
  gracePeriod(pod, requested) {
    if (!pod.spec?.nodeName) return 0;
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") return 0;
    return Math.max(0, requested ?? pod.spec.terminationGracePeriodSeconds ?? 30);
  },
});
