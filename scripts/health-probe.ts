/**
 * Container health check for tskube components, in the spirit of grpc_health_probe: exits 0 when every
 * target answers healthy, 1 otherwise (printing why), so compose's `healthcheck` can use it without a
 * shell (the public etcd and distroless-like base images have none).
 *
 *   health-probe grpc://127.0.0.1:6443 http://127.0.0.1:8080/readyz
 *
 * grpc:// asks grpc.health.v1.Health/Check (optionally for a service: grpc://host:port/tskube.v1.ResourceService);
 * http:// and https:// expect a 2xx, as kubelet's httpGet probe does.
 *
 * Compose runs this every few seconds in every container, so it loads only node's own http modules:
 * no gRPC library, no fetch (each costs a few hundred milliseconds of CPU to load).
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import * as https from "node:https";
import { parseArgs } from "node:util";

/** grpc.health.v1.HealthCheckResponse.ServingStatus, by number. */
const SERVING_STATUS = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

/** A gRPC frame holding HealthCheckRequest{service} (field 1, a string). */
export function healthCheckRequestFrame(service: string): Buffer {
  const name = Buffer.from(service, "utf8");
  if (name.length > 127) throw new Error("service name too long");
  const message = name.length ? Buffer.concat([Buffer.from([0x0a, name.length]), name]) : Buffer.alloc(0);
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/** The status of a HealthCheckResponse (field 1, an enum varint) in a gRPC frame; absent is UNKNOWN. */
export function servingStatusOf(frame: Buffer): string {
  if (frame.length < 5) throw new Error("short gRPC response");
  const message = frame.subarray(5, 5 + frame.readUInt32BE(1));
  let status = 0;
  for (let i = 0; i < message.length; ) {
    const tag = message[i++]!;
    if (tag === 0x08) {
      status = message[i++]!;
      if (status & 0x80) throw new Error("unexpected status value");
    } else {
      throw new Error(`unexpected field tag ${tag} in HealthCheckResponse`);
    }
  }
  return SERVING_STATUS[status] ?? `status ${status}`;
}

export function probeGrpc(target: URL, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${target.host}`);
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs}ms`)), timeoutMs);
    let done = false;
    function finish(err?: Error): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.destroy();
      err ? reject(err) : resolve();
    }
    session.on("error", (err) => finish(err));
    const stream = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/grpc",
      te: "trailers",
    });
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", (err) => finish(err));
    let grpcStatus: string | undefined;
    let grpcMessage = "";
    const readStatus = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] !== undefined) grpcStatus = String(h["grpc-status"]);
      if (h["grpc-message"] !== undefined) grpcMessage = decodeURIComponent(String(h["grpc-message"]));
    };
    stream.on("response", readStatus);
    stream.on("trailers", readStatus);
    stream.on("close", () => {
      if (grpcStatus === undefined) return finish(new Error("no gRPC status in the answer"));
      if (grpcStatus !== "0") return finish(new Error(grpcMessage || `gRPC status ${grpcStatus}`));
      try {
        const status = servingStatusOf(Buffer.concat(chunks));
        finish(status === "SERVING" ? undefined : new Error(`status ${status}`));
      } catch (err) {
        finish(err as Error);
      }
    });
    stream.end(healthCheckRequestFrame(decodeURIComponent(target.pathname.replace(/^\//, ""))));
  });
}

export function probeHttp(target: URL, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const get = target.protocol === "https:" ? https.get : http.get;
    const req = get(target, { timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        if (body.length < 4096) body += d;
      });
      res.on("end", () => {
        const code = res.statusCode ?? 0;
        code >= 200 && code < 300 ? resolve() : reject(new Error(`HTTP ${code}: ${body.trim()}`));
      });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)));
    req.on("error", reject);
  });
}

export async function probe(target: string, timeoutMs: number): Promise<void> {
  const url = new URL(target);
  if (url.protocol === "grpc:") return probeGrpc(url, timeoutMs);
  if (url.protocol === "http:" || url.protocol === "https:") return probeHttp(url, timeoutMs);
  throw new Error(`unsupported scheme ${url.protocol} (use grpc:// or http://)`);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { timeout: { type: "string", default: "3000" } },
  });
  const timeoutMs = Number(values.timeout);
  if (positionals.length === 0 || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    console.error("usage: health-probe [--timeout ms] grpc://host:port[/service] http://host:port/path ...");
    process.exit(2);
  }
  const results = await Promise.allSettled(positionals.map((t) => probe(t, timeoutMs)));
  let failed = false;
  results.forEach((r, i) => {
    if (r.status === "rejected") {
      failed = true;
      console.error(`${positionals[i]}: ${(r.reason as Error).message}`);
    }
  });
  process.exit(failed ? 1 : 0);
}

await main();
