import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import {
  Any,
  ConfigMap,
  CreateRequest,
  Deployment,
  KINDS,
  Namespace,
  Pod,
  ResourceServiceClient,
} from "@tskube/api";
import { ApiError, isInvalid } from "@tskube/machinery";
import { describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import { ktl } from "./harness.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;

function deployment(
  name: string,
  replicas: number,
  selector: Record<string, string>,
  labels: Record<string, string>,
) {
  return Deployment.fromPartial({
    metadata: { name, namespace: "bad" },
    spec: {
      replicas,
      selector: { matchLabels: selector },
      template: { metadata: { labels }, spec: { containers: [{ name: "web", image: "nginx:1.27" }] } },
    },
  });
}

describe("invalid input", () => {
  const c = useCluster();

  async function expectInvalid(p: Promise<unknown>, message: string) {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApiError);
    expect(isInvalid(err) || (err as ApiError).reason === "BadRequest").toBe(true);
    expect((err as Error).message).toContain(message);
  }

  it("rejects bad objects with field-path errors and writes nothing", async () => {
    await c.client.resource(kind("Namespace")).create(Namespace.fromPartial({ metadata: { name: "bad" } }));
    const deps = c.client.resource<Deployment>(kind("Deployment") as never);
    const pods = c.client.resource<Pod>(kind("Pod") as never);
    await expectInvalid(
      deps.create(deployment("web", -1, { app: "web" }, { app: "web" })),
      "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
    );
    await expectInvalid(
      deps.create(deployment("web", 2, { app: "web" }, { app: "other" })),
      "spec.template.metadata.labels: Invalid value:",
    );
    await expectInvalid(
      deps.create(deployment("Web_Server", 1, { app: "web" }, { app: "web" })),
      'metadata.name: Invalid value: "Web_Server": a lowercase RFC 1123 subdomain',
    );
    await expectInvalid(
      pods.create(
        Pod.fromPartial({ metadata: { name: "p", namespace: "bad" }, spec: { containers: [{ name: "c" }] } }),
      ),
      "spec.containers[0].image: Required value",
    );
    await expectInvalid(
      pods.create(
        Pod.fromPartial({
          metadata: { name: "p", namespace: "bad", labels: { "bad key!": "x" } },
          spec: { containers: [{ name: "c", image: "busybox" }] },
        }),
      ),
      'metadata.labels: Invalid value: "bad key!"',
    );
    const big = "x".repeat(2 * 1024 * 1024);
    const tooLarge = await c.client
      .resource<ConfigMap>(kind("ConfigMap") as never)
      .create(ConfigMap.fromPartial({ metadata: { name: "huge", namespace: "bad" }, data: { big } }))
      .catch((e: unknown) => e);
    expect(tooLarge).toBeInstanceOf(ApiError);
    expect(["RequestEntityTooLarge", "Invalid"]).toContain((tooLarge as ApiError).reason);

    expect((await deps.list({ namespace: "bad" })).items).toEqual([]);
    expect((await pods.list({ namespace: "bad" })).items).toEqual([]);
    expect((await c.client.resource(kind("ConfigMap")).list({ namespace: "bad" })).items).toEqual([]);
    expect((await fetch(`${c.apiservers[0]!.httpUrl}/healthz`)).ok).toBe(true);
  });

  it("answers garbage on the wire with BadRequest and keeps serving", async () => {
    const raw = new ResourceServiceClient(c.servers[0]!, credentials.createInsecure());
    const call = (req: CreateRequest) =>
      new Promise<{ code?: number; details?: string }>((resolve) =>
        raw.create(req, (err) => resolve(err ?? {})),
      );
    const garbage = await call(
      CreateRequest.fromPartial({
        resource: "pods",
        namespace: "bad",
        object: Any.fromPartial({
          typeUrl: "type.googleapis.com/tskube.v1.Pod",
          value: Buffer.from([0xff, 0xff, 0xff, 0x01]),
        }),
      }),
    );
    expect(garbage.code).toBe(3);
    const unknown = await call(CreateRequest.fromPartial({ resource: "widgets", namespace: "bad" }));
    expect(unknown.code).toBe(5);
    expect(unknown.details).toContain('the server doesn\'t have a resource type "widgets"');
    const mismatch = await call(
      CreateRequest.fromPartial({
        resource: "services",
        namespace: "bad",
        object: Any.fromPartial({ typeUrl: "type.googleapis.com/tskube.v1.Pod", value: new Uint8Array() }),
      }),
    );
    expect(mismatch.code).toBe(3);
    raw.close();
    expect((await fetch(`${c.apiservers[0]!.httpUrl}/healthz`)).ok).toBe(true);
  });

  it("ktl reports manifest errors with the field path and applies nothing", async () => {
    const dir = tmpdir();
    const cases: [string, string, RegExp][] = [
      [
        "malformed.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [oops\n",
        /error parsing .*malformed\.yaml/,
      ],
      [
        "unknown.yaml",
        "apiVersion: v1\nkind: Widget\nmetadata:\n  name: w\n",
        /no matches for kind "Widget" in version "v1"/,
      ],
      [
        "types.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: t\nspec:\n  replicas: three\n  selector: {matchLabels: {app: t}}\n  template:\n    metadata: {labels: {app: t}}\n    spec: {containers: [{name: c, image: nginx}]}\n",
        /spec\.replicas/,
      ],
      [
        "negative.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: negative\nspec:\n  replicas: -1\n  selector: {matchLabels: {app: negative}}\n  template:\n    metadata: {labels: {app: negative}}\n    spec: {containers: [{name: c, image: nginx}]}\n",
        /spec\.replicas: Invalid value: -1: must be greater than or equal to 0/,
      ],
    ];
    for (const [file, text, expected] of cases) {
      const path = join(dir, file);
      writeFileSync(path, text);
      const r = await ktl(c.servers.join(","), ["apply", "-n", "bad", "-f", path]);
      expect(r.code, `${file}: ${r.stdout}${r.stderr}`).not.toBe(0);
      expect(r.stderr).toMatch(expected);
    }
    expect((await c.client.resource(kind("Deployment")).list({ namespace: "bad" })).items).toEqual([]);
    expect((await c.client.resource(kind("Pod")).list({ namespace: "bad" })).items).toEqual([]);
  });
});
