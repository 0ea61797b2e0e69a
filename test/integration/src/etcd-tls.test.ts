import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { ConfigMap, KINDS, Namespace } from "@tskube/api";
import { createClient } from "@tskube/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EtcdError } from "../../../apps/apiserver/src/storage/etcd-errors.js";
import { EtcdKv } from "../../../apps/apiserver/src/storage/etcd-kv.js";
import { EtcdWatch, type WatchEvent } from "../../../apps/apiserver/src/storage/etcd-watch.js";
import { type EtcdCerts, makeEtcdCerts } from "./etcd-certs.js";
import { type EtcdHandle, freePort, REPO_ROOT, startApiserver, startEtcd, waitFor } from "./harness.js";

const cmKind = KINDS.find((k) => k.kind === "ConfigMap")!;
const nsKind = KINDS.find((k) => k.kind === "Namespace")!;
const b = (s: string) => Buffer.from(s);

describe("etcd over TLS with client certificates", () => {
  let certs: EtcdCerts;
  let etcd: EtcdHandle;

  beforeAll(async () => {
    certs = makeEtcdCerts();
    etcd = await startEtcd({ tls: certs });
  });
  afterAll(async () => {
    await etcd?.stop();
    rmSync(certs.dir, { recursive: true, force: true });
  });

  const tls = () => ({
    ca: readFileSync(certs.caFile),
    cert: readFileSync(certs.clientCertFile),
    key: readFileSync(certs.clientKeyFile),
  });

  it("serves the apiserver's KV calls and watches on an https:// endpoint", async () => {
    expect(etcd.endpoint).toMatch(/^https:\/\//);
    const kv = new EtcdKv([etcd.endpoint], { timeoutMs: 10_000, connectTimeoutMs: 2_000, tls: tls() });
    try {
      const created = await kv.txn({ key: b("/tls/a"), modRevision: 0, put: b("one") });
      expect(created.succeeded).toBe(true);
      const events: WatchEvent[] = [];
      const watch = new EtcdWatch(
        kv,
        { key: b("/tls/a"), startRevision: created.revision },
        { onEvents: (e) => events.push(...e), onError: () => {} },
      );
      try {
        await kv.txn({ key: b("/tls/a"), modRevision: created.revision, put: b("two") });
        const deadline = Date.now() + 10_000;
        while (events.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(events.map((e) => e.kv.value.toString())).toEqual(["one", "two"]);
      } finally {
        watch.cancel();
      }
      expect((await kv.range({ key: b("/tls/a") })).kvs[0]!.value.toString()).toBe("two");
    } finally {
      kv.close();
    }
  });

  it("fails clearly without a client certificate, and refuses https:// without TLS settings", async () => {
    const noCert = new EtcdKv([etcd.endpoint], {
      timeoutMs: 5_000,
      connectTimeoutMs: 2_000,
      tls: { ca: readFileSync(certs.caFile) },
    });
    try {
      const err = await noCert.range({ key: b("/tls/a") }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EtcdError);
      expect((err as EtcdError).code).toBe(status.UNAVAILABLE);
      // etcd completes the handshake and then never speaks HTTP/2: the connect times out, and the
      // error says what is missing.
      expect((err as EtcdError).message).toMatch(/timed out .* connecting to .*without a client certificate/);
    } finally {
      noCert.close();
    }
    // Without the CA, etcd's certificate is not trusted.
    const noCa = new EtcdKv([etcd.endpoint], {
      timeoutMs: 5_000,
      connectTimeoutMs: 2_000,
      tls: { cert: readFileSync(certs.clientCertFile), key: readFileSync(certs.clientKeyFile) },
    });
    try {
      await expect(noCa.range({ key: b("/tls/a") })).rejects.toThrow(
        /UNABLE_TO_VERIFY_LEAF_SIGNATURE|self.signed|issuer/i,
      );
    } finally {
      noCa.close();
    }
    expect(() => new EtcdKv([etcd.endpoint], { timeoutMs: 1_000, connectTimeoutMs: 1_000 })).toThrow(
      /https:\/\/ but no TLS settings/,
    );
  });

  it("runs the apiserver on it with --etcd-cafile/--etcd-certfile/--etcd-keyfile: create, get, list, watch", async () => {
    const api = await startApiserver(etcd.endpoint, {
      extraArgs: [
        "--etcd-cafile",
        certs.caFile,
        "--etcd-certfile",
        certs.clientCertFile,
        "--etcd-keyfile",
        certs.clientKeyFile,
      ],
    });
    const client = createClient({ servers: [api.address], timeoutMs: 10_000 });
    try {
      await client.resource(nsKind).create(Namespace.fromPartial({ metadata: { name: "tls" } }));
      const cms = client.resource<ConfigMap>(cmKind as never);
      const { resourceVersion } = await cms.list({ namespace: "tls" });
      const ac = new AbortController();
      const seen: string[] = [];
      const watching = (async () => {
        for await (const ev of cms.watch({ namespace: "tls", resourceVersion, signal: ac.signal })) {
          seen.push(`${ev.type} ${ev.object.metadata!.name}`);
          if (seen.length === 2) ac.abort();
        }
      })().catch(() => undefined);
      const created = await cms.create(
        ConfigMap.fromPartial({ metadata: { name: "one", namespace: "tls" }, data: { v: "1" } }),
      );
      await cms.update({ ...created, data: { v: "2" } });
      expect((await cms.get("one", { namespace: "tls" })).data).toEqual({ v: "2" });
      expect((await cms.list({ namespace: "tls" })).items.map((c) => c.metadata!.name)).toEqual(["one"]);
      const deadline = Date.now() + 10_000;
      while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      ac.abort();
      await watching;
      expect(seen).toEqual(["ADDED one", "MODIFIED one"]);
    } finally {
      client.close();
      await api.stop();
    }
  });

  it("an apiserver without a client certificate logs what is missing and never becomes ready", async () => {
    const httpPort = await freePort();
    const proc = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(REPO_ROOT, "apps/apiserver/src/main.ts"),
        "--etcd-servers",
        etcd.endpoint,
        "--etcd-cafile",
        certs.caFile,
        "--grpc-address",
        `127.0.0.1:${await freePort()}`,
        "--http-address",
        `127.0.0.1:${httpPort}`,
      ],
      { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOG_LEVEL: "info" } },
    );
    let output = "";
    proc.stdout.on("data", (d) => {
      output += d;
    });
    proc.stderr.on("data", (d) => {
      output += d;
    });
    try {
      await waitFor(
        "the apiserver to log the missing client certificate",
        async () => /TLS without a client certificate/.test(output),
        30_000,
      );
      const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      expect(ready).not.toBe(200);
    } finally {
      proc.kill("SIGKILL");
    }
  });
});
