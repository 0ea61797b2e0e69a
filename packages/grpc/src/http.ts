import type { Server } from "node:http";
import type { Logger } from "@tskube/log";
import express from "express";
import type { Registry as PromRegistry } from "prom-client";

export interface HttpOptions {
  address: string;
  log: Logger;
  metrics: PromRegistry;
  /** Live: the process serves. Ready: caches synced and etcd reachable. */
  checks: { live: () => Promise<string | undefined>; ready: () => Promise<string | undefined> };
}

function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(":");
  return { host: address.slice(0, i) || "0.0.0.0", port: Number(address.slice(i + 1)) };
}

/** /healthz, /livez, /readyz and /metrics, answered as Kubernetes answers them ("ok" or the failure). */
export async function startHttp(opts: HttpOptions): Promise<Server> {
  const app = express();
  const check =
    (fn: () => Promise<string | undefined>) => async (_req: express.Request, res: express.Response) => {
      const problem = await fn().catch((err: Error) => err.message);
      if (problem) res.status(503).type("text/plain").send(`[-]${problem}\nhealthz check failed\n`);
      else res.type("text/plain").send("ok");
    };
  app.get("/healthz", check(opts.checks.live));
  app.get("/livez", check(opts.checks.live));
  app.get("/readyz", check(opts.checks.ready));
  app.get("/metrics", async (_req, res) => {
    res.type(opts.metrics.contentType).send(await opts.metrics.metrics());
  });
  const { host, port } = splitAddress(opts.address);
  return await new Promise<Server>((resolve, reject) => {
    const server = app.listen(port, host, (err?: Error) => {
      if (err) reject(err);
      else {
        opts.log.info({ address: opts.address }, "HTTP health and metrics listening");
        resolve(server);
      }
    });
  });
}
