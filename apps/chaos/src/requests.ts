import { request } from "node:http";
import type { Clock } from "@tskube/controller";

export interface RequestRecord {
  at: number;
  ok: boolean;
  latencyMs: number;
  endpoint: string;
}

export interface Endpoint {
  host: string;
  port: number;
}

/** One GET on a fresh connection, as a load balancer's request to a backend; resolves ok or not. */
export function httpProbe(e: Endpoint, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host: e.host, port: e.port, path: "/", agent: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on("end", () => resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400));
        res.on("error", () => resolve(false));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(false));
    req.end();
  });
}

export interface RequestStreamOptions {
  requestsPerSecond: number;
  timeoutMs: number;
  /** The backends right now: the node port on every Ready node (node health checks of a cloud LB). */
  endpoints: () => Endpoint[];
  clock: Clock;
  send?: (e: Endpoint, timeoutMs: number) => Promise<boolean>;
}

/**
 * A steady, bounded stream of requests: one every 1/rps seconds (on schedule, not after the previous
 * answer, so a slow backend cannot slow the stream), round-robin over the endpoints, until stop().
 */
export class RequestStream {
  readonly records: RequestRecord[] = [];
  private timer: unknown;
  private stopped = false;
  private next = 0;
  private seq = 0;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly opts: RequestStreamOptions) {}

  start(): void {
    this.next = this.opts.clock.now();
    this.tick();
  }

  private tick(): void {
    if (this.stopped) return;
    const { clock } = this.opts;
    const endpoints = this.opts.endpoints();
    const at = clock.now();
    if (endpoints.length === 0) {
      this.records.push({ at, ok: false, latencyMs: 0, endpoint: "" });
    } else {
      const e = endpoints[this.seq++ % endpoints.length]!;
      const p = (this.opts.send ?? httpProbe)(e, this.opts.timeoutMs).then((ok) => {
        this.records.push({ at, ok, latencyMs: clock.now() - at, endpoint: `${e.host}:${e.port}` });
        this.inFlight.delete(p);
      });
      this.inFlight.add(p);
    }
    this.next += 1000 / this.opts.requestsPerSecond;
    this.timer = clock.setTimeout(() => this.tick(), Math.max(0, this.next - clock.now()));
  }

  /** Stops sending and waits for the answers (or timeouts) of requests already sent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.opts.clock.clearTimeout(this.timer);
    await Promise.all([...this.inFlight]);
  }
}
