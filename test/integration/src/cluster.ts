import { createClient } from "@tskube/client";
import { afterAll, beforeAll } from "vitest";
import { type ApiserverHandle, type EtcdHandle, startApiserver, startEtcd } from "./harness.js";

/**
 * One etcd and one apiserver for a test file (started in beforeAll, stopped in afterAll), plus a
 * client against it. Tests use their own namespaces so they do not see each other's objects.
 */
export function useCluster(opts: { apiservers?: number; apiserverArgs?: string[] } = {}) {
  const ctx = {} as {
    etcd: EtcdHandle;
    apiservers: ApiserverHandle[];
    client: ReturnType<typeof createClient>;
    servers: string[];
  };
  beforeAll(async () => {
    ctx.etcd = await startEtcd();
    ctx.apiservers = [];
    for (let i = 0; i < (opts.apiservers ?? 1); i++) {
      ctx.apiservers.push(await startApiserver(ctx.etcd.endpoint, { extraArgs: opts.apiserverArgs ?? [] }));
    }
    ctx.servers = ctx.apiservers.map((a) => a.address);
    ctx.client = createClient({ servers: ctx.servers, timeoutMs: 10_000 });
  });
  afterAll(async () => {
    ctx.client?.close();
    for (const a of ctx.apiservers ?? []) await a.stop();
    await ctx.etcd?.stop();
  });
  return ctx;
}
