import {
  type FieldError,
  field,
  isEnvVarName,
  isValidPortName,
  isValidPortNum,
  parseQuantity,
} from "@tskube/machinery";
import type { Container, Pod, PodSpec, Probe, Volume } from "../gen/tskube/v1/core.js";
import { dns1123Label, dns1123Subdomain, validateObjectMeta, validateObjectMetaUpdate } from "./meta.js";
import type { Strategy } from "./types.js";

const RESTART_POLICIES = ["Always", "OnFailure", "Never"];
const DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const PULL_POLICIES = ["Always", "IfNotPresent", "Never"];
const PROTOCOLS = ["TCP", "UDP", "SCTP"];
const TOLERATION_OPERATORS = ["Exists", "Equal"];
const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
const NODE_SELECTOR_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];

function imageTag(image: string): string {
  const lastSlash = image.lastIndexOf("/");
  const name = image.slice(lastSlash + 1);
  if (name.includes("@")) return "@digest";
  const colon = name.lastIndexOf(":");
  return colon >= 0 ? name.slice(colon + 1) : "";
}

function defaultProbe(p: Probe | undefined): void {
  if (!p) return;
  p.timeoutSeconds ||= 1;
  p.periodSeconds ||= 10;
  p.successThreshold ||= 1;
  p.failureThreshold ||= 3;
  if (p.httpGet) {
    p.httpGet.path ||= "/";
    p.httpGet.scheme ||= "HTTP";
  }
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
  // Limits without requests: the requests default to the limits (SetDefaults_ResourceList).
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

function validateProbe(p: Probe | undefined, path: string, ports: Set<string>): FieldError[] {
  if (!p) return [];
  const errs: FieldError[] = [];
  const handlers = [p.exec, p.httpGet, p.tcpSocket].filter(Boolean).length;
  if (handlers === 0) errs.push(field.required(path, "must specify a handler type"));
  if (handlers > 1) errs.push(field.forbidden(path, "may not specify more than 1 handler type"));
  for (const [name, v] of [
    ["initialDelaySeconds", p.initialDelaySeconds],
    ["timeoutSeconds", p.timeoutSeconds],
    ["periodSeconds", p.periodSeconds],
    ["successThreshold", p.successThreshold],
    ["failureThreshold", p.failureThreshold],
  ] as const) {
    if (v < 0) errs.push(field.invalid(`${path}.${name}`, v, "must be greater than or equal to 0"));
  }
  const port = p.httpGet?.port ?? p.tcpSocket?.port;
  if (port !== undefined) {
    const portPath = `${path}.${p.httpGet ? "httpGet" : "tcpSocket"}.port`;
    if (/^\d+$/.test(port)) {
      for (const e of isValidPortNum(Number(port))) errs.push(field.invalid(portPath, Number(port), e));
    } else if (!ports.has(port)) {
      for (const e of isValidPortName(port)) errs.push(field.invalid(portPath, port, e));
      if (!isValidPortName(port).length)
        errs.push(field.invalid(portPath, port, "must be a named port of the container"));
    }
  }
  return errs;
}

function validateResources(c: Container, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const parsed: Record<string, Record<string, ReturnType<typeof parseQuantity>>> = {
    limits: {},
    requests: {},
  };
  for (const kind of ["limits", "requests"] as const) {
    for (const [name, value] of Object.entries(c.resources?.[kind] ?? {})) {
      const p = `${path}.resources.${kind}[${name}]`;
      try {
        const q = parseQuantity(value);
        if (q.isNegative()) errs.push(field.invalid(p, value, "must be greater than or equal to 0"));
        parsed[kind]![name] = q;
      } catch (err) {
        errs.push(field.invalid(p, value, (err as Error).message));
      }
    }
  }
  for (const [name, req] of Object.entries(parsed.requests!)) {
    const lim = parsed.limits![name];
    if (lim && req.cmp(lim) > 0) {
      errs.push(
        field.invalid(
          `${path}.resources.requests`,
          req.toString(),
          `must be less than or equal to ${name} limit of ${lim.toString()}`,
        ),
      );
    }
  }
  return errs;
}

function validateContainers(
  containers: readonly Container[],
  path: string,
  volumes: Set<string>,
  names: Set<string>,
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
    if (c.imagePullPolicy && !PULL_POLICIES.includes(c.imagePullPolicy)) {
      errs.push(field.notSupported(`${p}.imagePullPolicy`, c.imagePullPolicy, PULL_POLICIES));
    }
    const portNames = new Set<string>();
    c.ports.forEach((port, j) => {
      const pp = `${p}.ports[${j}]`;
      for (const e of isValidPortNum(port.containerPort))
        errs.push(field.invalid(`${pp}.containerPort`, port.containerPort, e));
      if (port.hostPort)
        for (const e of isValidPortNum(port.hostPort))
          errs.push(field.invalid(`${pp}.hostPort`, port.hostPort, e));
      if (port.protocol && !PROTOCOLS.includes(port.protocol))
        errs.push(field.notSupported(`${pp}.protocol`, port.protocol, PROTOCOLS));
      if (port.name) {
        for (const e of isValidPortName(port.name)) errs.push(field.invalid(`${pp}.name`, port.name, e));
        if (portNames.has(port.name)) errs.push(field.duplicate(`${pp}.name`, port.name));
        portNames.add(port.name);
      }
    });
    c.env.forEach((e, j) => {
      const ep = `${p}.env[${j}]`;
      if (!e.name) errs.push(field.required(`${ep}.name`, ""));
      else for (const msg of isEnvVarName(e.name)) errs.push(field.invalid(`${ep}.name`, e.name, msg));
      if (e.valueFrom) {
        const sources = [
          e.valueFrom.fieldRef,
          e.valueFrom.resourceFieldRef,
          e.valueFrom.configMapKeyRef,
          e.valueFrom.secretKeyRef,
        ].filter(Boolean);
        if (e.value)
          errs.push(field.invalid(`${ep}.valueFrom`, "", "may not be specified when `value` is not empty"));
        if (sources.length !== 1)
          errs.push(
            field.invalid(
              `${ep}.valueFrom`,
              "",
              "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ),
          );
      }
    });
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
    });
    errs.push(...validateProbe(c.livenessProbe, `${p}.livenessProbe`, portNames));
    errs.push(...validateProbe(c.readinessProbe, `${p}.readinessProbe`, portNames));
    errs.push(...validateProbe(c.startupProbe, `${p}.startupProbe`, portNames));
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
    const sources = [
      v.emptyDir,
      v.hostPath,
      v.configMap,
      v.secret,
      v.persistentVolumeClaim,
      v.downwardApi,
    ].filter(Boolean).length;
    if (sources === 0) errs.push(field.required(p, "must specify a volume type"));
    if (sources > 1) errs.push(field.forbidden(p, "may not specify more than 1 volume type"));
    if (v.hostPath && !v.hostPath.path) errs.push(field.required(`${p}.hostPath.path`, ""));
    if (v.configMap && !v.configMap.name) errs.push(field.required(`${p}.configMap.name`, ""));
    if (v.secret && !v.secret.secretName) errs.push(field.required(`${p}.secret.secretName`, ""));
  });
  return { errs, names };
}

/** ValidatePodSpec at `path` ("spec" for pods, "spec.template.spec" for controllers). */
export function validatePodSpec(spec: PodSpec | undefined, path: string): FieldError[] {
  if (!spec) return [field.required(path, "")];
  const { errs, names: volumeNames } = validateVolumes(spec.volumes, `${path}.volumes`);
  const containerNames = new Set<string>();
  if (spec.containers.length === 0) errs.push(field.required(`${path}.containers`, ""));
  errs.push(
    ...validateContainers(spec.initContainers, `${path}.initContainers`, volumeNames, containerNames),
  );
  errs.push(...validateContainers(spec.containers, `${path}.containers`, volumeNames, containerNames));
  if (spec.restartPolicy && !RESTART_POLICIES.includes(spec.restartPolicy)) {
    errs.push(field.notSupported(`${path}.restartPolicy`, spec.restartPolicy, RESTART_POLICIES));
  }
  if (spec.dnsPolicy && !DNS_POLICIES.includes(spec.dnsPolicy)) {
    errs.push(field.notSupported(`${path}.dnsPolicy`, spec.dnsPolicy, DNS_POLICIES));
  }
  if (spec.terminationGracePeriodSeconds !== undefined && spec.terminationGracePeriodSeconds < 0) {
    errs.push(
      field.invalid(
        `${path}.terminationGracePeriodSeconds`,
        spec.terminationGracePeriodSeconds,
        "must be greater than or equal to 0",
      ),
    );
  }
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds <= 0) {
    errs.push(
      field.invalid(
        `${path}.activeDeadlineSeconds`,
        spec.activeDeadlineSeconds,
        "must be between 1 and 2147483647, inclusive",
      ),
    );
  }
  if (spec.nodeName)
    for (const e of dns1123Subdomain(spec.nodeName))
      errs.push(field.invalid(`${path}.nodeName`, spec.nodeName, e));
  spec.tolerations.forEach((t, i) => {
    const p = `${path}.tolerations[${i}]`;
    if (t.operator && !TOLERATION_OPERATORS.includes(t.operator))
      errs.push(field.notSupported(`${p}.operator`, t.operator, TOLERATION_OPERATORS));
    if (t.operator === "Exists" && t.value)
      errs.push(
        field.invalid(`${p}.operator`, t.operator, "value must be empty when `operator` is 'Exists'"),
      );
    if (!t.key && t.operator !== "Exists")
      errs.push(
        field.invalid(
          `${p}.operator`,
          t.operator,
          'operator must be Exists when `key` is empty, which means "match all values and all keys"',
        ),
      );
    if (t.effect && !TAINT_EFFECTS.includes(t.effect))
      errs.push(field.notSupported(`${p}.effect`, t.effect, TAINT_EFFECTS));
    if (t.tolerationSeconds !== undefined && t.effect !== "NoExecute") {
      errs.push(
        field.invalid(`${p}.effect`, t.effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"),
      );
    }
  });
  const terms =
    spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  terms.forEach((term, i) => {
    term.matchExpressions.forEach((e, j) => {
      const p = `${path}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[${i}].matchExpressions[${j}]`;
      if (!NODE_SELECTOR_OPERATORS.includes(e.operator))
        errs.push(field.notSupported(`${p}.operator`, e.operator, NODE_SELECTOR_OPERATORS));
      if ((e.operator === "In" || e.operator === "NotIn") && e.values.length === 0) {
        errs.push(field.required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
      }
    });
  });
  return errs;
}

/** The fields a pod update may change: images, activeDeadlineSeconds, added tolerations, binding. */
function mutableView(spec: PodSpec | undefined): unknown {
  if (!spec) return undefined;
  return {
    ...spec,
    containers: spec.containers.map((c) => ({ ...c, image: "" })),
    initContainers: spec.initContainers.map((c) => ({ ...c, image: "" })),
    activeDeadlineSeconds: undefined,
    tolerations: [],
    nodeName: "",
  };
}

export const podStrategy: Strategy<Pod> = {
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
    ];
    errs.push(...validatePodSpec(pod.spec, "spec"));
    if (JSON.stringify(mutableView(pod.spec)) !== JSON.stringify(mutableView(old.spec))) {
      errs.push(
        field.forbidden(
          "spec",
          "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
        ),
      );
    }
    if (old.spec?.nodeName && pod.spec?.nodeName !== old.spec.nodeName) {
      errs.push(
        field.invalid("spec.nodeName", pod.spec?.nodeName ?? "", "field is immutable once the pod is bound"),
      );
    }
    return errs;
  },
  validateStatusUpdate(pod) {
    const errs: FieldError[] = [];
    const phases = ["Pending", "Running", "Succeeded", "Failed", "Unknown"];
    const phase = pod.status?.phase;
    if (phase && !phases.includes(phase)) errs.push(field.notSupported("status.phase", phase, phases));
    return errs;
  },
  selectableFields(pod) {
    return {
      "spec.nodeName": pod.spec?.nodeName ?? "",
      "spec.restartPolicy": pod.spec?.restartPolicy ?? "",
      "spec.schedulerName": pod.spec?.schedulerName ?? "",
      "spec.serviceAccountName": pod.spec?.serviceAccountName ?? "",
      "status.phase": pod.status?.phase ?? "",
      "status.podIP": pod.status?.podIp ?? "",
      "status.nominatedNodeName": pod.status?.nominatedNodeName ?? "",
    };
  },
};
