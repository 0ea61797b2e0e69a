import { type AddressInfo, createServer } from "node:net";
import { ConfigMap, KINDS, Namespace } from "@tskube/api";
import { createClient } from "@tskube/client";
import { Informer } from "@tskube/controller";
import { describe, expect, it } from "vitest";
import { type ApiserverHandle, ktl, startApiserver, startEtcdCluster, waitFor } from "./harness.js";

const cmKind = KINDS.find((k) => k.kind === "ConfigMap")!;
const nsKind = KINDS.find((k) => k.kind === "Namespace")!;

/**
 * The compose cluster's shape (three etcd members, two apiservers): an informer must see every
 * object created while its apiserver is SIGKILLed and restarted, over and over, with the writes
 * going through whichever apiserver is up.
 */
describe("informer across apiserver crashes and restarts on a three-member etcd", () => {
  it("sees every object created before, during and after each kill", async () => {
    const etcd = await startEtcdCluster(3);
    const apis: ApiserverHandle[] = [];
    for (let i = 0; i < 2; i++) apis.push(await startApiserver(etcd.endpoint));
    const servers = apis.map((a) => a.address);
    const reader = createClient({ servers, timeoutMs: 3000, retries: 20 });
    const writer = createClient({ servers: [...servers].reverse(), timeoutMs: 3000, retries: 20 });
    const ac = new AbortController();
    try {
      await writer.resource(nsKind).create(Namespace.fromPartial({ metadata: { name: "ir" } }));
      const informer = new Informer(reader.resource<ConfigMap>(cmKind as never), { initialBackoffMs: 100 });
      const added = new Map<string, number>();
      informer.addEventHandler({
        onAdd: (o) => added.set(o.metadata!.name, (added.get(o.metadata!.name) ?? 0) + 1),
      });
      const running = informer.run(ac.signal);
      await informer.waitForSync();
      const cms = writer.resource<ConfigMap>(cmKind as never);
      let n = 0;
      let writes = true;
      const writing = (async () => {
        while (writes && n < 2000) {
          // A create retried after its apiserver died may find its own first attempt done.
          await cms
            .create(ConfigMap.fromPartial({ metadata: { name: `c-${n}`, namespace: "ir" } }))
            .catch((err: Error) => {
              if (!/already exists/.test(err.message)) throw err;
            });
          n++;
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      for (let round = 0; round < 4; round++) {
        const victim = round % 2;
        const port = Number(apis[victim]!.address.split(":")[1]);
        await new Promise((r) => setTimeout(r, 700));
        await apis[victim]!.kill();
        await new Promise((r) => setTimeout(r, 500));
        apis[victim] = await startApiserver(etcd.endpoint, { grpcPort: port });
      }
      await new Promise((r) => setTimeout(r, 700));
      writes = false;
      await writing;
      const total = n;
      await waitFor(
        "the informer to hold every object",
        async () => informer.store.size >= total,
        30_000,
      ).catch(() => undefined);
      const missing = Array.from({ length: total }, (_, i) => `c-${i}`).filter((k) => !added.has(k));
      expect(missing).toEqual([]);
      expect([...added.values()].every((v) => v === 1)).toBe(true);
      ac.abort();
      await running;
    } finally {
      ac.abort();
      reader.close();
      writer.close();
      for (const a of apis) await a.stop();
      await etcd.stop();
    }
  }, 120_000);
});

describe("ktl against an address whose apiserver is gone", () => {
  it("fails with exit code 1 and says why when the port accepts and closes (docker's proxy)", async () => {
    const closing = createServer((socket) => socket.end());
    await new Promise<void>((r) => closing.listen(0, "127.0.0.1", r));
    const server = `127.0.0.1:${(closing.address() as AddressInfo).port}`;
    try {
      for (const args of [
        ["get", "configmaps", "-o", "json"],
        ["apply", "-f", "-"],
      ]) {
        const r = await ktl(server, args, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
        expect(r.code, r.stderr).toBe(1);
        expect(r.stdout).toBe("");
        expect(r.stderr).toContain(server);
      }
    } finally {
      closing.close();
    }
  }, 60_000);
});
