import { createServer, type Server } from "node:net";
import {
  deploymentKind,
  type KindInfo,
  type KubeObject,
  type Pod,
  PortForwardRequest,
  type PortForwardResponse,
  podKind,
  replicaSetKind,
  type Service,
  serviceKind,
} from "@tskube/api";
import { parseDuration, selectorFromLabelSelector, selectorFromSet } from "@tskube/machinery";
import { type Context, resolveKind } from "../context.js";
import { UsageError } from "../errors.js";

function parsePorts(spec: string): { local: number; remote: number } {
  const [a, b] = spec.split(":");
  const local = Number(a || b);
  const remote = Number(b ?? a);
  if (
    !Number.isInteger(remote) ||
    remote < 1 ||
    remote > 65535 ||
    !Number.isInteger(local) ||
    local < 0 ||
    local > 65535
  ) {
    throw new UsageError(`invalid port specification: ${JSON.stringify(spec)}`);
  }
  return { local, remote };
}

/** `LOCAL:REMOTE` or `PORT` split into its two halves (kubectl's splitPort). */
function splitPort(spec: string): [string, string] {
  const parts = spec.split(":");
  return parts.length === 2 ? [parts[0]!, parts[1]!] : [spec, spec];
}

/** The number of the pod's container port named `name` (kubectl's LookupContainerPortNumberByName). */
function containerPortByName(pod: Pod, name: string): number {
  for (const c of pod.spec?.containers ?? [])
    for (const p of c.ports) if (p.name === name) return p.containerPort;
  throw new Error(`Pod '${pod.metadata?.name}' does not have a named port '${name}'`);
}

/**
 * kubectl's translateServicePortToTargetPort: each REMOTE is a port of the Service (a number or a
 * port name), forwarded to the pod's targetPort (a number, or a container port name looked up in
 * the chosen pod). A headless Service forwards to the port as given.
 */
export function translateServicePorts(specs: readonly string[], svc: Service, pod: Pod): string[] {
  const spec = svc.spec;
  return specs.map((s) => {
    let [local, remote] = splitPort(s);
    let port = Number(remote);
    if (!/^\d+$/.test(remote)) {
      const named = spec?.ports.find((p) => p.name === remote);
      if (!named) throw new Error(`Service '${svc.metadata?.name}' does not have a named port '${remote}'`);
      port = named.port;
      if (local === remote) local = String(port);
    }
    const sp = spec?.ports.find((p) => p.port === port);
    if (!sp) throw new Error(`Service ${svc.metadata?.name} does not have a service port ${port}`);
    let target: number;
    if (spec?.clusterIp === "None") target = port;
    else if (!sp.targetPort || /^\d+$/.test(sp.targetPort)) target = Number(sp.targetPort) || sp.port;
    else target = containerPortByName(pod, sp.targetPort);
    return local !== String(target) ? `${local}:${target}` : String(target);
  });
}

/** A pod's REMOTE given by container port name becomes its number (kubectl's convertPodNamedPortToNumber). */
export function translatePodPorts(specs: readonly string[], pod: Pod): string[] {
  return specs.map((s) => {
    const [local, remote] = splitPort(s);
    if (/^\d+$/.test(remote)) return s;
    const n = containerPortByName(pod, remote);
    return local === remote ? String(n) : `${local}:${n}`;
  });
}

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };
const readySince = (p: Pod) => {
  const c = p.status?.conditions.find((x) => x.type === "Ready");
  return c?.status === "True" ? Date.parse(c.lastTransitionTime || "") || 0 : undefined;
};
const restarts = (p: Pod) => (p.status?.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0);

/**
 * The pod kubectl attaches to among a selector's pods (GetFirstPod sorted by reversed
 * ActivePods): scheduled before unscheduled, Running before Unknown before Pending, ready before
 * not, ready longer, fewer restarts, older.
 */
export function pickPod(pods: readonly Pod[]): Pod | undefined {
  const score = (p: Pod): number[] => {
    const since = readySince(p);
    return [
      p.spec?.nodeName ? 1 : 0,
      PHASE_RANK[p.status?.phase ?? ""] ?? 0,
      since !== undefined ? 1 : 0,
      since !== undefined ? -since : 0,
      -restarts(p),
      -(Date.parse(p.metadata?.creationTimestamp || "") || Number.POSITIVE_INFINITY),
    ];
  };
  // Lexicographic: the first differing criterion decides.
  const greater = (x: number[], y: number[]) => {
    const i = x.findIndex((v, j) => v !== y[j]);
    return i >= 0 && x[i]! > y[i]!;
  };
  let best: Pod | undefined;
  let bestScore: number[] = [];
  for (const p of pods) {
    const sc = score(p);
    if (!best || greater(sc, bestScore)) {
      best = p;
      bestScore = sc;
    }
  }
  return best;
}

/** The first pod a selector matches, waiting up to `timeoutMs` for one to appear (kubectl's GetFirstPod). */
async function firstPod(ctx: Context, selector: string, timeoutMs: number): Promise<Pod> {
  const pods = ctx.client().resource(podKind);
  const list = await pods.list({ namespace: ctx.namespace, labelSelector: selector });
  const found = pickPod(list.items);
  if (found) return found;
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), timeoutMs);
  try {
    for await (const e of pods.watch({
      namespace: ctx.namespace,
      labelSelector: selector,
      resourceVersion: list.resourceVersion,
      signal: stop.signal,
    })) {
      if (e.type === "ADDED" || e.type === "MODIFIED") return e.object;
    }
  } catch (err) {
    if (!stop.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
  }
  throw new Error("timed out waiting for the condition");
}

/** The pod and the pod ports a `TYPE/NAME` target and its port specs come down to. */
async function resolveTarget(
  ctx: Context,
  target: string,
  specs: string[],
  timeoutMs: number,
): Promise<{ pod: Pod; specs: string[] }> {
  const [type, name] = target.includes("/") ? (target.split("/") as [string, string]) : ["pod", target];
  if (!name) throw new UsageError(`arguments in resource/name form must have a single resource and name`);
  const k = resolveKind(type);
  const get = <T extends KubeObject>(kind: KindInfo<T>) =>
    ctx.client().resource(kind).get(name, { namespace: ctx.namespace });
  switch (k) {
    case podKind: {
      const pod = await get(podKind);
      return { pod, specs: translatePodPorts(specs, pod) };
    }
    case serviceKind: {
      const svc: Service = await get(serviceKind);
      const selector = svc.spec?.selector ?? {};
      if (Object.keys(selector).length === 0)
        throw new Error(`invalid service '${name}': Service is defined without a selector`);
      const pod = await firstPod(ctx, selectorFromSet(selector).toString(), timeoutMs);
      return { pod, specs: translateServicePorts(specs, svc, pod) };
    }
    case deploymentKind:
    case replicaSetKind: {
      const w = k === deploymentKind ? await get(deploymentKind) : await get(replicaSetKind);
      const selector = selectorFromLabelSelector(w.spec!.selector!).toString();
      const pod = await firstPod(ctx, selector, timeoutMs);
      return { pod, specs: translatePodPorts(specs, pod) };
    }
    default:
      throw new UsageError(`cannot attach to ${k.kind}: not implemented`);
  }
}

/**
 * `ktl port-forward TYPE/NAME [LOCAL:]REMOTE...`: listens locally and carries each connection to the
 * port of one pod (the pod itself, or a running pod of the Service's or workload's selector, with
 * Service ports translated to the pod's target ports) through the apiserver and the pod's kubelet,
 * until Ctrl-C.
 */
export async function portForward(
  ctx: Context,
  target: string,
  portSpecs: string[],
  flags: { address: string; podRunningTimeout?: string },
): Promise<void> {
  if (portSpecs.length === 0) throw new UsageError("at least 1 PORT is required for port-forward");
  const { pod, specs } = await resolveTarget(
    ctx,
    target,
    portSpecs,
    parseDuration(flags.podRunningTimeout ?? "1m"),
  );
  if (pod.status?.phase !== "Running")
    throw new Error(`unable to forward port because pod is not running. Current status=${pod.status?.phase}`);
  const name = pod.metadata!.name;
  const servers: Server[] = [];
  for (const spec of specs) {
    const { local, remote } = parsePorts(spec);
    const server = createServer((socket) => {
      ctx.out(`Handling connection for ${local}\n`);
      const stream = ctx.client().portForward();
      stream.write(PortForwardRequest.fromPartial({ namespace: ctx.namespace, name, port: remote }));
      socket.on("data", (d: Buffer) => stream.write(PortForwardRequest.fromPartial({ data: d })));
      socket.on("end", () => stream.end());
      socket.on("error", () => stream.cancel());
      stream.on("data", (m: PortForwardResponse) => socket.write(m.data));
      stream.on("end", () => socket.end());
      stream.on("error", (err: Error & { details?: string }) => {
        process.stderr.write(`error: ${err.details ?? err.message}\n`);
        socket.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(local, flags.address, () => resolve());
    });
    const addr = server.address();
    const port = typeof addr === "object" && addr ? addr.port : local;
    ctx.out(`Forwarding from ${flags.address}:${port} -> ${remote}\n`);
    servers.push(server);
  }
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  for (const s of servers) s.close();
}
