/**
 * Container health check for tskube components, in the spirit of grpc_health_probe: exits 0 when every
 * target answers healthy, 1 otherwise (printing why), so compose's `healthcheck` can use it without a
 * shell (the public etcd and distroless-like base images have none).
 *
 *   health-probe grpc://127.0.0.1:6443 http://127.0.0.1:8080/readyz
 *
 * grpc:// asks grpc.health.v1.Health/Check (optionally for a service: grpc://host:port/tskube.v1.ResourceService);
 * http:// and https:// expect a 2xx, as kubelet's httpGet probe does.
 */
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";

const check = healthService.Check!;

export async function probeGrpc(target: URL, timeoutMs: number): Promise<void> {
  const client = new grpc.Client(target.host, grpc.credentials.createInsecure());
  try {
    const status = await new Promise<string>((resolve, reject) => {
      client.makeUnaryRequest<{ service: string }, { status?: string }>(
        check.path,
        check.requestSerialize,
        check.responseDeserialize,
        { service: decodeURIComponent(target.pathname.replace(/^\//, "")) },
        { deadline: Date.now() + timeoutMs },
        (err, res) =>
          err ? reject(new Error(err.details || err.message)) : resolve(res?.status ?? "UNKNOWN"),
      );
    });
    if (status !== "SERVING") throw new Error(`status ${status}`);
  } finally {
    client.close();
  }
}

export async function probeHttp(target: URL, timeoutMs: number): Promise<void> {
  const res = await fetch(target, { signal: AbortSignal.timeout(timeoutMs) });
  const body = (await res.text()).trim();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${body}`);
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
