import { connect, createServer, type Server, type Socket } from "node:net";
import type { Logger } from "@tskube/log";
import type { Proxier } from "../proxier.js";
import { endpointString, type ServicePortInfo } from "../service-port.js";
import { RoundRobin } from "./load-balancer.js";

/** Kubernetes' userspace EndpointDialTimeouts: each retry waits longer for the next endpoint. */
export const DIAL_TIMEOUTS_MS = [250, 500, 1000, 2000];

export interface UserspaceOptions {
  /** Addresses NodePorts listen on: from --nodeport-addresses, or ["0.0.0.0"]. */
  nodePortAddresses: string[];
  log: Logger;
  /** Called when a connection is handed to an endpoint (metrics). */
  onProxied?: (servicePort: string, endpoint: string) => void;
}

interface Listener {
  server: Server;
  servicePort: string;
  sockets: Set<Socket>;
}

/**
 * userspace mode: a TCP listener per service port on its ClusterIP (and external IPs) and on the
 * node's NodePort addresses; each accepted connection is piped to a ready endpoint chosen
 * round-robin, trying the next endpoint when a connect fails. Needs no privileges, but a ClusterIP
 * is reachable only if it is a local address (e.g. a loopback service CIDR). A listener that cannot
 * bind (address in use by another proxy on the same host, address not local) is retried on the
 * next sync. UDP and SCTP ports are not served in this mode.
 */
export class UserspaceProxier implements Proxier {
  readonly mode = "userspace";
  private readonly listeners = new Map<string, Listener>();
  private readonly balancers = new Map<string, RoundRobin>();
  private readonly bindFailures = new Map<string, string>();
  private readonly log: Logger;

  constructor(private readonly opts: UserspaceOptions) {
    this.log = opts.log;
  }

  async start(): Promise<void> {}

  /** "address:port" of every listener bound now (tests and the benchmark look here). */
  boundAddresses(): string[] {
    return [...this.listeners.keys()].sort();
  }

  async sync(ports: ServicePortInfo[]): Promise<void> {
    const wanted = new Map<string, string>();
    const live = new Set<string>();
    for (const sp of ports) {
      if (sp.protocol !== "TCP") continue;
      live.add(sp.name);
      let lb = this.balancers.get(sp.name);
      if (!lb) {
        lb = new RoundRobin();
        this.balancers.set(sp.name, lb);
      }
      lb.update(sp.endpoints.filter((e) => e.ready).map(endpointString), sp.affinitySeconds);
      for (const ip of [sp.clusterIp, ...sp.externalIps, ...sp.loadBalancerIps])
        wanted.set(listenKey(ip, sp.port), sp.name);
      if (sp.nodePort)
        for (const addr of this.opts.nodePortAddresses) wanted.set(listenKey(addr, sp.nodePort), sp.name);
    }
    for (const name of this.balancers.keys()) if (!live.has(name)) this.balancers.delete(name);
    const closing: Promise<void>[] = [];
    for (const [key, l] of this.listeners) {
      if (wanted.get(key) === l.servicePort) continue;
      this.listeners.delete(key);
      closing.push(closeListener(l));
    }
    await Promise.all(closing);
    for (const k of this.bindFailures.keys()) if (!wanted.has(k)) this.bindFailures.delete(k);
    await Promise.all(
      [...wanted].filter(([key]) => !this.listeners.has(key)).map(([key, name]) => this.listen(key, name)),
    );
  }

  private async listen(key: string, servicePort: string): Promise<void> {
    const { host, port } = splitKey(key);
    const l: Listener = { server: createServer(), servicePort, sockets: new Set() };
    l.server.on("connection", (socket) => this.accept(l, socket));
    try {
      await new Promise<void>((resolve, reject) => {
        l.server.once("error", reject);
        l.server.listen({ host, port, exclusive: true }, () => {
          l.server.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      // Once per address and reason: a standby proxy on the same host would otherwise log every sync.
      if (this.bindFailures.get(key) !== code)
        this.log.warn(
          { address: key, servicePort, code },
          "cannot listen for service port; retrying on the next sync",
        );
      this.bindFailures.set(key, code);
      return;
    }
    l.server.on("error", (err) => this.log.error({ err, address: key }, "listener failed"));
    this.bindFailures.delete(key);
    this.listeners.set(key, l);
    this.log.info({ address: key, servicePort }, "listening for service port");
  }

  private accept(l: Listener, client: Socket): void {
    l.sockets.add(client);
    client.once("close", () => l.sockets.delete(client));
    client.on("error", () => undefined);
    client.pause();
    const clientIp = client.remoteAddress ?? "";
    const tried = new Set<string>();
    const attempt = (n: number) => {
      const lb = this.balancers.get(l.servicePort);
      const endpoint = n < DIAL_TIMEOUTS_MS.length ? lb?.next(clientIp, tried) : undefined;
      if (!endpoint) {
        if (n === 0) this.log.debug({ servicePort: l.servicePort }, "no ready endpoints; closing connection");
        client.destroy();
        return;
      }
      tried.add(endpoint);
      const { host, port } = splitKey(endpoint);
      const upstream = connect({ host, port });
      const timer = setTimeout(() => upstream.destroy(new Error("dial timeout")), DIAL_TIMEOUTS_MS[n]);
      const failed = (err: Error) => {
        clearTimeout(timer);
        this.log.debug(
          { servicePort: l.servicePort, endpoint, err: err.message },
          "dial failed; trying another endpoint",
        );
        upstream.destroy();
        if (!client.destroyed) attempt(n + 1);
      };
      upstream.once("error", failed);
      upstream.once("connect", () => {
        clearTimeout(timer);
        upstream.off("error", failed);
        this.opts.onProxied?.(l.servicePort, endpoint);
        l.sockets.add(upstream);
        upstream.once("close", () => l.sockets.delete(upstream));
        upstream.on("error", () => client.destroy());
        client.on("error", () => upstream.destroy());
        // Half-closes pass through, so request/response protocols that shut down writing work.
        client.pipe(upstream);
        upstream.pipe(client);
        client.once("close", () => upstream.destroy());
        upstream.once("close", () => client.destroy());
        client.resume();
      });
    };
    attempt(0);
  }

  async stop(): Promise<void> {
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map(closeListener));
  }
}

const listenKey = (host: string, port: number) =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;

function splitKey(key: string): { host: string; port: number } {
  const i = key.lastIndexOf(":");
  return { host: key.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(key.slice(i + 1)) };
}

function closeListener(l: Listener): Promise<void> {
  return new Promise((resolve) => {
    l.server.close(() => resolve());
    // A removed service port takes its open connections with it, as the listener's goroutines did.
    for (const s of l.sockets) s.destroy();
  });
}
