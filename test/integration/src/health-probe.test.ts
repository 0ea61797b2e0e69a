import { spawn } from "node:child_process";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, REPO_ROOT } from "./harness.js";

/** Runs scripts/health-probe.ts as compose's healthcheck does: a process, judged by its exit code. */
function probe(...targets: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(REPO_ROOT, "scripts/health-probe.ts"), "--timeout", "2000", ...targets],
      { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe("health-probe against a real gRPC health service and HTTP endpoints", () => {
  const grpcServer = new grpc.Server();
  const health = new HealthImplementation({ "": "SERVING", "tskube.v1.ResourceService": "SERVING" });
  let grpcPort = 0;
  let http: HttpServer;
  let httpPort = 0;

  beforeAll(async () => {
    health.addToServer(grpcServer);
    grpcPort = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    http = createHttpServer((req, res) => {
      if (req.url === "/readyz") res.writeHead(200).end("ok");
      else res.writeHead(503).end("[-]etcd failed: not ready");
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    httpPort = (http.address() as AddressInfo).port;
  });

  afterAll(async () => {
    grpcServer.forceShutdown();
    await new Promise((resolve) => http.close(resolve));
  });

  it("exits 0 when the server and a named service are SERVING and the HTTP endpoint answers 2xx", async () => {
    const r = await probe(
      `grpc://127.0.0.1:${grpcPort}`,
      `grpc://127.0.0.1:${grpcPort}/tskube.v1.ResourceService`,
      `http://127.0.0.1:${httpPort}/readyz`,
    );
    expect(r).toEqual({ code: 0, stderr: "" });
  });

  it("exits 1 naming the target for NOT_SERVING, an unknown service, a non-2xx answer and a closed port", async () => {
    health.setStatus("tskube.v1.ResourceService", "NOT_SERVING");
    const closed = await freePort();
    const r = await probe(
      `grpc://127.0.0.1:${grpcPort}/tskube.v1.ResourceService`,
      `grpc://127.0.0.1:${grpcPort}/no.such.Service`,
      `http://127.0.0.1:${httpPort}/livez`,
      `grpc://127.0.0.1:${closed}`,
      `http://127.0.0.1:${httpPort}/readyz`,
    );
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe(`grpc://127.0.0.1:${grpcPort}/tskube.v1.ResourceService: status NOT_SERVING`);
    expect(lines[1]).toMatch(
      new RegExp(`^grpc://127.0.0.1:${grpcPort}/no.such.Service: .*(NOT_FOUND|unknown)`, "i"),
    );
    expect(lines[2]).toBe(`http://127.0.0.1:${httpPort}/livez: HTTP 503: [-]etcd failed: not ready`);
    expect(lines[3]).toMatch(new RegExp(`^grpc://127.0.0.1:${closed}: .*ECONNREFUSED`));
    health.setStatus("tskube.v1.ResourceService", "SERVING");
  });

  it("refuses a scheme it does not know, with usage for no targets", async () => {
    const r = await probe("tcp://127.0.0.1:1");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unsupported scheme tcp:");
    const usage = await probe();
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("usage: health-probe");
  });
});
