import { request } from "node:http";
import type { Clock } from "@tskube/controller";

export interface RequestRecord {
  at: number;
  ok: boolean;
  latencyMs: number;
  endpoint: string;
  /** Why a failed request failed: "timeout", the socket error's code, or "HTTP <status>". */
  error?: string;
}

export interface Endpoint {
  host: string;
  port: number;
}

/**
 * One GET on a fresh connection, as a load balancer's request to a backend: resolves true, or why
 * it failed ("timeout", the socket error's code, "HTTP <status>").
 */
export function httpProbe(e: Endpoint, timeoutMs: number): Promise<true | string> {
  return new Promise((resolve) => {
    const req = request(
      { host: e.host, port: e.port, path: "/", agent: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        res.on("end", () => resolve(status >= 200 && status < 400 ? true : `HTTP ${status}`));
        res.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "timeout" })));
    req.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

export interface RequestStreamOptions {
  requestsPerSecond: number;
  timeoutMs: number;
  /** The backends right now: the node port on every Ready node (node health checks of a cloud LB). */
  endpoints: () => Endpoint[];
  clock: Clock;
  /** Sends one request: true when it succeeded, else false or why it failed. */
  send?: (e: Endpoint, timeoutMs: number) => Promise<boolean | string>;
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
      this.records.push({ at, ok: false, latencyMs: 0, endpoint: "", error: "no Ready node" });
    } else {
      const e = endpoints[this.seq++ % endpoints.length]!;
      const p = (this.opts.send ?? httpProbe)(e, this.opts.timeoutMs).then((result) => {
        const ok = result === true;
        const record: RequestRecord = {
          at,
          ok,
          latencyMs: clock.now() - at,
          endpoint: `${e.host}:${e.port}`,
        };
        if (!ok) record.error = typeof result === "string" ? result : "failed";
        this.records.push(record);
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
