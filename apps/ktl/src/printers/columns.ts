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
import { experimentColumns } from "./experiment.js";
import { podReady, podRestarts, podStatus } from "./pod-status.js";

export interface Columns<T extends KubeObject = KubeObject> {
  headers: string[];
  wide: string[];
  /** `wide` for -o wide, where some cells (a Service's EXTERNAL-IP) are not clipped. */
  row(obj: T, now: number, wide?: boolean): string[];
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

/** kubectl's labels.FormatLabels: sorted `k=v` pairs, `<none>` when there are none. */
export function formatLabels(m: Record<string, string> | undefined): string {
  const entries = Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(",") : "<none>";
}

/** kubectl clips load balancer addresses to this many characters outside `-o wide`. */
const LOAD_BALANCER_WIDTH = 16;

/** kubectl's loadBalancerStatusStringer: the ingress IPs (else hostnames), sorted and distinct. */
function loadBalancerStatus(s: Service, wide: boolean): string {
  const set = new Set<string>();
  for (const i of s.status?.loadBalancer?.ingress ?? []) {
    if (i.ip) set.add(i.ip);
    else if (i.hostname) set.add(i.hostname);
  }
  const r = [...set].sort().join(",");
  return !wide && r.length > LOAD_BALANCER_WIDTH ? `${r.slice(0, LOAD_BALANCER_WIDTH - 3)}...` : r;
}

/** EXTERNAL-IP as kubectl's getServiceExternalIP prints it. */
export function serviceExternalIp(s: Service, wide = false): string {
  const spec = s.spec;
  const extra = spec?.externalIps ?? [];
  switch (spec?.type) {
    case "ClusterIP":
    case "NodePort":
      return extra.length ? extra.join(",") : "<none>";
    case "LoadBalancer": {
      const lb = loadBalancerStatus(s, wide);
      if (extra.length) return [...(lb ? lb.split(",") : []), ...extra].join(",");
      return lb || "<pending>";
    }
    case "ExternalName":
      return spec.externalName;
    default:
      return "<unknown>";
  }
}

/** PORT(S): `80/TCP`, `80:30080/TCP` with a node port, comma-separated (kubectl's makePortString). */
export function servicePorts(s: Service): string {
  const ports = s.spec?.ports ?? [];
  if (!ports.length) return "<none>";
  return ports
    .map((p) => (p.nodePort > 0 ? `${p.port}:${p.nodePort}/${p.protocol}` : `${p.port}/${p.protocol}`))
    .join(",");
}

/** CLUSTER-IP: the first of spec.clusterIPs ("None" for a headless Service), else `<none>`. */
export function serviceClusterIp(s: Service): string {
  return s.spec?.clusterIps[0] || s.spec?.clusterIp || "<none>";
}

/** `ip:port`, with IPv6 addresses in brackets (Go's net.JoinHostPort). */
const hostPort = (ip: string, port: number) => (ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`);

/**
 * kubectl's formatEndpoints: ready addresses per port (only ports named in `portNames` when
 * given), at most three, then ` + N more...`; `<none>` without subsets, empty when no address is
 * ready.
 */
export function formatEndpoints(e: Endpoints, portNames?: ReadonlySet<string>): string {
  if (e.subsets.length === 0) return "<none>";
  const max = 3;
  const list: string[] = [];
  let more = false;
  let count = 0;
  for (const ss of e.subsets) {
    if (ss.ports.length === 0) {
      // A headless Service may have no ports.
      count += ss.addresses.length;
      for (const a of ss.addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(a.ip);
      }
      continue;
    }
    for (const p of ss.ports) {
      if (portNames && !portNames.has(p.name)) continue;
      count += ss.addresses.length;
      for (const a of ss.addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(hostPort(a.ip, p.port));
      }
    }
  }
  const ret = list.join(",");
  return more ? `${ret} + ${count - max} more...` : ret;
}

const service: Columns<Service> = {
  headers: ["TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
  wide: ["SELECTOR"],
  row: (s, now, wide) => [
    s.spec?.type ?? "",
    serviceClusterIp(s),
    serviceExternalIp(s, wide),
    servicePorts(s),
    age(s.metadata?.creationTimestamp, now),
  ],
  wideRow: (s) => [formatLabels(s.spec?.selector)],
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
  row: (e, now) => [formatEndpoints(e), age(e.metadata?.creationTimestamp, now)],
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
  Experiment: experimentColumns as Columns<never>,
};

export function columnsFor(kind: KindInfo): Columns {
  return (BY_KIND[kind.kind] as unknown as Columns | undefined) ?? generic;
}
