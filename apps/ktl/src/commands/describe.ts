import {
  type Container,
  type Deployment,
  type Endpoints,
  type Event,
  type Experiment,
  KINDS,
  type KindInfo,
  type KubeObject,
  type Namespace,
  type Node,
  type Pod,
  type PodTemplateSpec,
  type ReplicaSet,
  type Service,
} from "@tskube/api";
import type { Context } from "../context.js";
import { resolveKind } from "../context.js";
import { describeError } from "../errors.js";
import { describeExperiment } from "../printers/describe-experiment.js";
import { describeEndpoints, describeEvents, describeService } from "../printers/describe-service.js";
import { podStatus } from "../printers/pod-status.js";
import { formatTable } from "../printers/table.js";

/** Accumulates `Key:  value` lines with kubectl describe's alignment and indentation. */
class Writer {
  private lines: string[] = [];
  line(indent: number, key: string, value?: string | number): void {
    const pad = "  ".repeat(indent);
    if (value === undefined) this.lines.push(`${pad}${key}`);
    else this.lines.push(`${pad}${`${key}:`.padEnd(Math.max(key.length + 2, 18 - indent * 2))}${value}`);
  }
  map(indent: number, key: string, m: Record<string, string> | undefined): void {
    const entries = Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
    if (!entries.length) {
      this.line(indent, key, "<none>");
      return;
    }
    entries.forEach(([k, v], i) => {
      if (i === 0) this.line(indent, key, `${k}=${v}`);
      else
        this.lines.push(
          `${"  ".repeat(indent)}${"".padEnd(Math.max(key.length + 2, 18 - indent * 2))}${k}=${v}`,
        );
    });
  }
  raw(text: string): void {
    this.lines.push(text);
  }
  toString(): string {
    return `${this.lines.join("\n")}\n`;
  }
}

const orNone = (s: string | undefined) => (s ? s : "<none>");

function metaHeader(w: Writer, obj: KubeObject, kind: KindInfo): void {
  const m = obj.metadata!;
  w.line(0, "Name", m.name);
  if (kind.namespaced) w.line(0, "Namespace", m.namespace);
  w.line(0, "CreationTimestamp", new Date(m.creationTimestamp).toUTCString());
  w.map(0, "Labels", m.labels);
  const annotations = Object.fromEntries(
    Object.entries(m.annotations).filter(([k]) => k !== "kubectl.kubernetes.io/last-applied-configuration"),
  );
  w.map(0, "Annotations", annotations);
}

function containers(w: Writer, title: string, list: readonly Container[], indent: number): void {
  if (!list.length) return;
  w.line(indent, `${title}:`);
  for (const c of list) {
    w.line(indent + 1, `${c.name}:`);
    w.line(indent + 2, "Image", c.image);
    const ports = c.ports.map((p) => `${p.containerPort}/${p.protocol}`);
    w.line(indent + 2, "Port", ports.length ? ports.join(", ") : "<none>");
    if (c.command.length) {
      w.line(indent + 2, "Command:");
      for (const x of c.command) w.raw(`${"  ".repeat(indent + 3)}${x}`);
    }
    if (c.args.length) {
      w.line(indent + 2, "Args:");
      for (const x of c.args) w.raw(`${"  ".repeat(indent + 3)}${x}`);
    }
    const lim = Object.entries(c.resources?.limits ?? {});
    const req = Object.entries(c.resources?.requests ?? {});
    if (lim.length) {
      w.line(indent + 2, "Limits:");
      for (const [k, v] of lim) w.line(indent + 3, k, v);
    }
    if (req.length) {
      w.line(indent + 2, "Requests:");
      for (const [k, v] of req) w.line(indent + 3, k, v);
    }
    if (c.livenessProbe) w.line(indent + 2, "Liveness", probe(c.livenessProbe));
    if (c.readinessProbe) w.line(indent + 2, "Readiness", probe(c.readinessProbe));
    if (c.env.length) {
      w.line(indent + 2, "Environment:");
      for (const e of c.env) {
        const from = e.valueFrom?.fieldRef
          ? ` (${e.valueFrom.fieldRef.apiVersion || "v1"}:${e.valueFrom.fieldRef.fieldPath})`
          : e.valueFrom?.configMapKeyRef
            ? `<set to the key '${e.valueFrom.configMapKeyRef.key}' of config map '${e.valueFrom.configMapKeyRef.name}'>`
            : e.valueFrom?.secretKeyRef
              ? `<set to the key '${e.valueFrom.secretKeyRef.key}' in secret '${e.valueFrom.secretKeyRef.name}'>`
              : "";
        w.raw(`${"  ".repeat(indent + 3)}${e.name}:  ${e.value}${from}`);
      }
    } else w.line(indent + 2, "Environment", "<none>");
    const mounts = c.volumeMounts.map((m) => `${m.mountPath} from ${m.name} (${m.readOnly ? "ro" : "rw"})`);
    if (mounts.length) {
      w.line(indent + 2, "Mounts:");
      for (const m of mounts) w.raw(`${"  ".repeat(indent + 3)}${m}`);
    } else w.line(indent + 2, "Mounts", "<none>");
  }
}

function probe(p: NonNullable<Container["livenessProbe"]>): string {
  const how = p.httpGet
    ? `http-get ${p.httpGet.scheme.toLowerCase() || "http"}://${p.httpGet.host || ":"}${p.httpGet.host ? ":" : ""}${p.httpGet.port}${p.httpGet.path}`
    : p.tcpSocket
      ? `tcp-socket :${p.tcpSocket.port}`
      : p.exec
        ? `exec [${p.exec.command.join(" ")}]`
        : "unknown";
  return `${how} delay=${p.initialDelaySeconds}s timeout=${p.timeoutSeconds}s period=${p.periodSeconds}s #success=${p.successThreshold} #failure=${p.failureThreshold}`;
}

function describePod(w: Writer, pod: Pod): void {
  w.line(0, "Priority", pod.spec?.priority ?? 0);
  w.line(0, "Node", pod.spec?.nodeName ? `${pod.spec.nodeName}/${pod.status?.hostIp ?? ""}` : "<none>");
  w.line(0, "Start Time", pod.status?.startTime ? new Date(pod.status.startTime).toUTCString() : "<unset>");
  w.line(0, "Status", podStatus(pod));
  w.line(0, "IP", orNone(pod.status?.podIp));
  containers(w, "Init Containers", pod.spec?.initContainers ?? [], 0);
  containers(w, "Containers", pod.spec?.containers ?? [], 0);
  const conds = pod.status?.conditions ?? [];
  if (conds.length) {
    w.line(0, "Conditions:");
    w.raw(
      formatTable(
        ["  Type", "Status"],
        conds.map((c) => [`  ${c.type}`, c.status]),
      ).trimEnd(),
    );
  }
  w.line(0, "Volumes", pod.spec?.volumes.length ? "" : "<none>");
  for (const v of pod.spec?.volumes ?? []) {
    w.line(1, `${v.name}:`);
    const type = v.emptyDir
      ? "EmptyDir (a temporary directory that shares a pod's lifetime)"
      : v.hostPath
        ? `HostPath (bare host directory volume)`
        : v.configMap
          ? "ConfigMap (a volume populated by a ConfigMap)"
          : v.secret
            ? "Secret (a volume populated by a Secret)"
            : "Other";
    w.line(2, "Type", type);
  }
  w.line(0, "QoS Class", orNone(pod.status?.qosClass));
  w.map(0, "Node-Selectors", pod.spec?.nodeSelector);
  const tol = (pod.spec?.tolerations ?? []).map(
    (t) =>
      `${t.key}${t.operator === "Exists" ? "" : `=${t.value}`}${t.effect ? `:${t.effect}` : ""}${t.tolerationSeconds !== undefined ? ` for ${t.tolerationSeconds}s` : ""}`,
  );
  w.line(0, "Tolerations", tol.length ? tol.join("\n                   ") : "<none>");
}

function strategySummary(d: Deployment): string {
  const ru = d.spec?.strategy?.rollingUpdate;
  return ru ? `${ru.maxUnavailable} max unavailable, ${ru.maxSurge} max surge` : "";
}

function describeDeployment(w: Writer, d: Deployment): void {
  const sel = Object.entries(d.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  w.line(0, "Selector", sel.join(",") || "<none>");
  const s = d.status;
  w.line(
    0,
    "Replicas",
    `${d.spec?.replicas ?? 0} desired | ${s?.updatedReplicas ?? 0} updated | ${s?.replicas ?? 0} total | ${s?.availableReplicas ?? 0} available | ${s?.unavailableReplicas ?? 0} unavailable`,
  );
  w.line(0, "StrategyType", d.spec?.strategy?.type ?? "");
  w.line(0, "MinReadySeconds", d.spec?.minReadySeconds ?? 0);
  if (d.spec?.strategy?.type === "RollingUpdate") w.line(0, "RollingUpdateStrategy", strategySummary(d));
  w.line(0, "Pod Template:");
  w.map(1, "Labels", d.spec?.template?.metadata?.labels);
  containers(w, "Containers", d.spec?.template?.spec?.containers ?? [], 1);
  const conds = s?.conditions ?? [];
  if (conds.length) {
    w.line(0, "Conditions:");
    w.raw(
      formatTable(
        ["  Type", "Status", "Reason"],
        conds.map((c) => [`  ${c.type}`, c.status, c.reason]),
      ).trimEnd(),
    );
  }
}

/** A pod template as describe prints it under "Pod Template:" (rollout history --revision too). */
export function describePodTemplate(template: PodTemplateSpec | undefined): string {
  const w = new Writer();
  w.line(0, "Pod Template:");
  w.map(1, "Labels", template?.metadata?.labels);
  const annotations = template?.metadata?.annotations ?? {};
  if (Object.keys(annotations).length) w.map(1, "Annotations", annotations);
  containers(w, "Containers", template?.spec?.containers ?? [], 1);
  return w.toString();
}

function describeReplicaSet(w: Writer, rs: ReplicaSet): void {
  const sel = Object.entries(rs.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  w.line(0, "Selector", sel.join(",") || "<none>");
  const owner = rs.metadata?.ownerReferences.find((o) => o.controller);
  w.line(0, "Controlled By", owner ? `${owner.kind}/${owner.name}` : "<none>");
  w.line(0, "Replicas", `${rs.status?.replicas ?? 0} current / ${rs.spec?.replicas ?? 0} desired`);
  w.line(0, "Pods Status", `${rs.status?.readyReplicas ?? 0} Running / 0 Waiting / 0 Succeeded / 0 Failed`);
  w.line(0, "Pod Template:");
  w.map(1, "Labels", rs.spec?.template?.metadata?.labels);
  containers(w, "Containers", rs.spec?.template?.spec?.containers ?? [], 1);
}

function describeNode(w: Writer, n: Node): void {
  w.line(0, "Unschedulable", String(n.spec?.unschedulable ?? false));
  const taints = (n.spec?.taints ?? []).map((t) => `${t.key}${t.value ? `=${t.value}` : ""}:${t.effect}`);
  w.line(0, "Taints", taints.length ? taints.join("\n                   ") : "<none>");
  const conds = n.status?.conditions ?? [];
  if (conds.length) {
    w.line(0, "Conditions:");
    w.raw(
      formatTable(
        ["  Type", "Status", "Reason", "Message"],
        conds.map((c) => [`  ${c.type}`, c.status, c.reason, c.message]),
      ).trimEnd(),
    );
  }
  w.line(0, "Addresses:");
  for (const a of n.status?.addresses ?? []) w.line(1, a.type, a.address);
  w.line(0, "Capacity:");
  for (const [k, v] of Object.entries(n.status?.capacity ?? {})) w.line(1, k, v);
  w.line(0, "Allocatable:");
  for (const [k, v] of Object.entries(n.status?.allocatable ?? {})) w.line(1, k, v);
  w.line(0, "PodCIDR", orNone(n.spec?.podCidr));
}

function describeNamespace(w: Writer, ns: Namespace): void {
  w.line(0, "Status", ns.status?.phase ?? "");
}

/** kubectl's events table (its own alignment block, padding 2), or `Events: <none>`. */
function events(w: Writer, list: readonly Event[], now: number): void {
  const ev = describeEvents(list, now);
  if (!list.length) w.line(0, "Events", "<none>");
  else w.raw(ev.table.trimEnd());
}

/** `ktl describe KIND [NAME...]`: kubectl's layout plus the object's events. */
export async function describe(
  ctx: Context,
  args: string[],
  flags: { selector?: string; allNamespaces: boolean },
): Promise<void> {
  if (!args.length)
    throw new Error(
      'You must specify the type of resource to describe. Use "ktl api-resources" for a complete list of supported resources.',
    );
  const [first, ...rest] = args;
  const [kindName, maybeName] = first!.split("/");
  const kind = resolveKind(kindName!);
  const names = maybeName ? [maybeName, ...rest] : rest;
  const resource = ctx.client().resource(kind);
  const namespace = flags.allNamespaces ? "" : ctx.namespace;
  let objects: KubeObject[] = [];
  if (names.length) {
    for (const n of names) {
      try {
        objects.push(await resource.get(n, { namespace }));
      } catch (err) {
        ctx.err(describeError(err));
      }
    }
  } else {
    objects = (await resource.listAll({ namespace, labelSelector: flags.selector ?? "" })).items;
  }
  const eventsKind = KINDS.find((k) => k.kind === "Event")!;
  const now = Date.now();
  const out: string[] = [];
  const eventsOf = async (obj: KubeObject): Promise<Event[]> => {
    try {
      return (
        await ctx
          .client()
          .resource<Event>(eventsKind as never)
          .listAll({
            namespace: kind.namespaced ? obj.metadata!.namespace : "",
            fieldSelector: `involvedObject.uid=${obj.metadata!.uid}`,
          })
      ).items;
    } catch {
      return [];
    }
  };
  for (const obj of objects) {
    const evs = await eventsOf(obj);
    if (kind.kind === "Service") {
      // kubectl's service describer shows the Service's endpoints per port.
      let ep: Endpoints | undefined;
      try {
        ep = await ctx
          .client()
          .resource<Endpoints>(KINDS.find((k) => k.kind === "Endpoints")! as never)
          .get(obj.metadata!.name, { namespace: obj.metadata!.namespace });
      } catch {
        ep = undefined;
      }
      out.push(describeService(obj as Service, ep, evs, now));
      continue;
    }
    if (kind.kind === "Endpoints") {
      out.push(describeEndpoints(obj as Endpoints, evs, now));
      continue;
    }
    if (kind.kind === "Experiment") {
      out.push(describeExperiment(obj as Experiment, evs, now));
      continue;
    }
    const w = new Writer();
    metaHeader(w, obj, kind);
    switch (kind.kind) {
      case "Pod":
        describePod(w, obj as Pod);
        break;
      case "Deployment":
        describeDeployment(w, obj as Deployment);
        break;
      case "ReplicaSet":
        describeReplicaSet(w, obj as ReplicaSet);
        break;
      case "Node":
        describeNode(w, obj as Node);
        break;
      case "Namespace":
        describeNamespace(w, obj as Namespace);
        break;
      default:
        break;
    }
    events(w, evs, now);
    out.push(w.toString());
  }
  ctx.out(out.join("\n\n"));
}
