import type {
  ConfigMap,
  Deployment,
  Endpoints,
  Event,
  KindInfo,
  KubeObject,
  LabelSelector,
  Lease,
  Namespace,
  Node,
  Pod,
  PodSpec,
  ReplicaSet,
  Secret,
  Service,
} from "@tskube/api";
import { selectorFromLabelSelector } from "@tskube/machinery";
import { age, humanDuration } from "./age.js";
import { podReady, podRestarts, podStatus } from "./pod-status.js";

export interface Columns<T extends KubeObject = KubeObject> {
  headers: string[];
  wide: string[];
  row(obj: T, now: number): string[];
  wideRow(obj: T, now: number): string[];
}

const none = (s: string | undefined) => (s ? s : "<none>");

function containersAndImages(spec: PodSpec | undefined): [string, string] {
  const cs = spec?.containers ?? [];
  return [cs.map((c) => c.name).join(","), cs.map((c) => c.image).join(",")];
}

function selectorString(sel: LabelSelector | undefined): string {
  if (!sel) return "<none>";
  const s = selectorFromLabelSelector(sel).toString();
  return s || "<none>";
}

const pod: Columns<Pod> = {
  headers: ["READY", "STATUS", "RESTARTS", "AGE"],
  wide: ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
  row: (p, now) => [
    podReady(p),
    podStatus(p),
    podRestarts(p, now, humanDuration),
    age(p.metadata?.creationTimestamp, now),
  ],
  wideRow: (p) => [
    none(p.status?.podIp),
    none(p.spec?.nodeName),
    none(p.status?.nominatedNodeName),
    p.spec?.readinessGates.length
      ? `${p.spec.readinessGates.filter((g) => p.status?.conditions.some((c) => c.type === g.conditionType && c.status === "True")).length}/${p.spec.readinessGates.length}`
      : "<none>",
  ],
};

const deployment: Columns<Deployment> = {
  headers: ["READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
  wide: ["CONTAINERS", "IMAGES", "SELECTOR"],
  row: (d, now) => [
    `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}`,
    String(d.status?.updatedReplicas ?? 0),
    String(d.status?.availableReplicas ?? 0),
    age(d.metadata?.creationTimestamp, now),
  ],
  wideRow: (d) => [...containersAndImages(d.spec?.template?.spec), selectorString(d.spec?.selector)],
};

const replicaSet: Columns<ReplicaSet> = {
  headers: ["DESIRED", "CURRENT", "READY", "AGE"],
  wide: ["CONTAINERS", "IMAGES", "SELECTOR"],
  row: (r, now) => [
    String(r.spec?.replicas ?? 0),
    String(r.status?.replicas ?? 0),
    String(r.status?.readyReplicas ?? 0),
    age(r.metadata?.creationTimestamp, now),
  ],
  wideRow: (r) => [...containersAndImages(r.spec?.template?.spec), selectorString(r.spec?.selector)],
};

function externalIp(s: Service): string {
  const spec = s.spec;
  const extra = spec?.externalIps ?? [];
  switch (spec?.type) {
    case "ExternalName":
      return spec.externalName;
    case "LoadBalancer": {
      const ips = (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip || i.hostname);
      const all = [...ips, ...extra];
      return all.length ? all.join(",") : "<pending>";
    }
    default:
      return extra.length ? extra.join(",") : "<none>";
  }
}

export function servicePorts(s: Service): string {
  const ports = s.spec?.ports ?? [];
  if (!ports.length) return "<none>";
  return ports
    .map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol}` : `${p.port}/${p.protocol}`))
    .join(",");
}

const service: Columns<Service> = {
  headers: ["TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
  wide: ["SELECTOR"],
  row: (s, now) => [
    s.spec?.type ?? "",
    s.spec?.type === "ExternalName" ? "<none>" : none(s.spec?.clusterIp),
    externalIp(s),
    servicePorts(s),
    age(s.metadata?.creationTimestamp, now),
  ],
  wideRow: (s) => {
    const sel = Object.entries(s.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`);
    return [sel.length ? sel.join(",") : "<none>"];
  },
};

function nodeStatus(n: Node): string {
  const ready = n.status?.conditions.find((c) => c.type === "Ready");
  let s = ready?.status === "True" ? "Ready" : ready?.status === "False" ? "NotReady" : "Unknown";
  if (n.spec?.unschedulable) s += ",SchedulingDisabled";
  return s;
}

function nodeRoles(n: Node): string {
  const roles = Object.keys(n.metadata?.labels ?? {})
    .filter((k) => k.startsWith("node-role.kubernetes.io/"))
    .map((k) => k.slice("node-role.kubernetes.io/".length))
    .filter(Boolean);
  return roles.length ? roles.sort().join(",") : "<none>";
}

const node: Columns<Node> = {
  headers: ["STATUS", "ROLES", "AGE", "VERSION"],
  wide: ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"],
  row: (n, now) => [
    nodeStatus(n),
    nodeRoles(n),
    age(n.metadata?.creationTimestamp, now),
    n.status?.nodeInfo?.kubeletVersion ?? "",
  ],
  wideRow: (n) => {
    const addr = (t: string) => none(n.status?.addresses.find((a) => a.type === t)?.address);
    const info = n.status?.nodeInfo;
    return [
      addr("InternalIP"),
      addr("ExternalIP"),
      none(info?.osImage),
      none(info?.kernelVersion),
      none(info?.containerRuntimeVersion),
    ];
  },
};

const namespace: Columns<Namespace> = {
  headers: ["STATUS", "AGE"],
  wide: [],
  row: (n, now) => [n.status?.phase ?? "", age(n.metadata?.creationTimestamp, now)],
  wideRow: () => [],
};

function eventAge(e: Event, now: number): string {
  return age(e.lastTimestamp || e.eventTime || e.firstTimestamp || e.metadata?.creationTimestamp, now);
}

const event: Columns<Event> = {
  headers: ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
  wide: [],
  row: (e, now) => [
    eventAge(e, now),
    e.type,
    e.reason,
    `${(e.involvedObject?.kind ?? "").toLowerCase()}/${e.involvedObject?.name ?? ""}`,
    e.message.trim(),
  ],
  wideRow: () => [],
};

const configMap: Columns<ConfigMap> = {
  headers: ["DATA", "AGE"],
  wide: [],
  row: (c, now) => [
    String(Object.keys(c.data).length + Object.keys(c.binaryData).length),
    age(c.metadata?.creationTimestamp, now),
  ],
  wideRow: () => [],
};

const secret: Columns<Secret> = {
  headers: ["TYPE", "DATA", "AGE"],
  wide: [],
  row: (s, now) => [s.type, String(Object.keys(s.data).length), age(s.metadata?.creationTimestamp, now)],
  wideRow: () => [],
};

const lease: Columns<Lease> = {
  headers: ["HOLDER", "AGE"],
  wide: [],
  row: (l, now) => [l.spec?.holderIdentity ?? "", age(l.metadata?.creationTimestamp, now)],
  wideRow: () => [],
};

const endpoints: Columns<Endpoints> = {
  headers: ["ENDPOINTS", "AGE"],
  wide: [],
  row: (e, now) => {
    const list: string[] = [];
    for (const s of e.subsets) {
      for (const a of s.addresses) {
        if (s.ports.length === 0) list.push(a.ip);
        for (const p of s.ports) list.push(`${a.ip}:${p.port}`);
      }
    }
    const shown = list.slice(0, 3).join(",");
    const more = list.length > 3 ? ` + ${list.length - 3} more...` : "";
    return [list.length ? shown + more : "<none>", age(e.metadata?.creationTimestamp, now)];
  },
  wideRow: () => [],
};

const generic: Columns = {
  headers: ["AGE"],
  wide: [],
  row: (o, now) => [age(o.metadata?.creationTimestamp, now)],
  wideRow: () => [],
};

const BY_KIND: Record<string, Columns<never>> = {
  Pod: pod as Columns<never>,
  Deployment: deployment as Columns<never>,
  ReplicaSet: replicaSet as Columns<never>,
  Service: service as Columns<never>,
  Node: node as Columns<never>,
  Namespace: namespace as Columns<never>,
  Event: event as Columns<never>,
  ConfigMap: configMap as Columns<never>,
  Secret: secret as Columns<never>,
  Lease: lease as Columns<never>,
  Endpoints: endpoints as Columns<never>,
};

export function columnsFor(kind: KindInfo): Columns {
  return (BY_KIND[kind.kind] as unknown as Columns | undefined) ?? generic;
}
