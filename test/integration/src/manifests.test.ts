import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { useCluster } from "./cluster.js";
import { ktl, REPO_ROOT } from "./harness.js";

const FIXTURES = join(REPO_ROOT, "test/integration/fixtures");

/** Every key and value of `want` is in `got` (lists element by element). */
function expectSubset(got: unknown, want: unknown, path = ""): void {
  if (want !== null && typeof want === "object") {
    expect(got, path).toBeTypeOf("object");
    if (Array.isArray(want)) {
      expect(Array.isArray(got), path).toBe(true);
      expect((got as unknown[]).length, path).toBe(want.length);
      for (const [i, w] of want.entries()) expectSubset((got as unknown[])[i], w, `${path}[${i}]`);
      return;
    }
    for (const [k, v] of Object.entries(want))
      expectSubset((got as Record<string, unknown>)[k], v, `${path}.${k}`);
    return;
  }
  expect(got, path).toEqual(want);
}

// biome-ignore lint/suspicious/noExplicitAny: manifests are YAML documents of any shape
type Doc = Record<string, any>;

const docs = readdirSync(FIXTURES)
  .filter((f) => f.endsWith(".yaml"))
  .flatMap((f) => parseAllDocuments(readFileSync(join(FIXTURES, f), "utf8")).map((d) => d.toJS() as Doc));

describe("tutorial manifests", () => {
  const c = useCluster();
  const server = () => c.servers.join(",");

  it("apply creates every object, and applying again changes nothing", async () => {
    const first = await ktl(server(), ["apply", "-f", FIXTURES]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const lines = first.stdout.trim().split("\n").sort();
    expect(lines).toEqual(
      [
        "configmap/nginx-config created",
        "deployment.apps/nginx-deployment created",
        "pod/hello created",
        "replicaset.apps/frontend created",
        "secret/db-credentials created",
        "service/my-service created",
      ].sort(),
    );
    const again = await ktl(server(), ["apply", "-f", FIXTURES]);
    expect(again.code).toBe(0);
    expect(
      again.stdout
        .trim()
        .split("\n")
        .every((l) => l.endsWith(" unchanged")),
    ).toBe(true);
  });

  it("get prints kubectl's tables", async () => {
    const r = await ktl(server(), ["get", "deploy,rs,svc,po"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/m);
    expect(r.stdout).toMatch(/^deployment\.apps\/nginx-deployment\s+0\/3\s+0\s+0\s+\d+s$/m);
    expect(r.stdout).toMatch(/^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE$/m);
    expect(r.stdout).toMatch(/^replicaset\.apps\/frontend\s+3\s+0\s+0\s+\d+s$/m);
    expect(r.stdout).toMatch(/^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/m);
    expect(r.stdout).toMatch(/^service\/my-service\s+NodePort\s+\S+\s+<none>\s+80:30007\/TCP\s+\d+s$/m);
    expect(r.stdout).toMatch(/^pod\/hello\s+0\/1\s+Pending\s+0\s+\d+s$/m);
  });

  it("describe shows the object's fields", async () => {
    const r = await ktl(server(), ["describe", "deployment", "nginx-deployment"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Name:\s+nginx-deployment$/m);
    expect(r.stdout).toMatch(/^Namespace:\s+default$/m);
    expect(r.stdout).toMatch(/^Replicas:\s+3 desired/m);
    expect(r.stdout).toMatch(/^StrategyType:\s+RollingUpdate$/m);
    expect(r.stdout).toMatch(/nginx:1\.14\.2/);
    const pod = await ktl(server(), ["describe", "pod", "hello"]);
    expect(pod.code).toBe(0);
    expect(pod.stdout).toMatch(/^Name:\s+hello$/m);
    expect(pod.stdout).toMatch(/Command:\s*\n\s+echo/);
  });

  it("a YAML round trip keeps every field", async () => {
    for (const doc of docs) {
      const kind = String(doc.kind).toLowerCase();
      const r = await ktl(server(), ["get", kind, doc.metadata.name, "-o", "yaml"]);
      expect(r.code, r.stderr).toBe(0);
      const got = parseAllDocuments(r.stdout)[0]!.toJS() as Doc;
      const want = structuredClone(doc);
      if (doc.kind === "Secret") {
        // stringData is write-only: the apiserver folds it into data (base64), as Kubernetes does.
        for (const [k, v] of Object.entries(want.stringData ?? {}))
          want.data[k] = Buffer.from(String(v)).toString("base64");
        delete want.stringData;
      }
      expectSubset(got, want, `${doc.kind}/${doc.metadata.name}`);
      expect(got.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(Number(got.metadata.resourceVersion)).toBeGreaterThan(0);
      expect(got.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
  });

  it("delete removes what apply made", async () => {
    const r = await ktl(server(), ["delete", "-f", FIXTURES]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/deployment\.apps "nginx-deployment" deleted/);
    const left = await ktl(server(), ["get", "deploy,rs,svc,cm,secret"]);
    expect(left.stdout).not.toMatch(/nginx-deployment|frontend|my-service|nginx-config|db-credentials/);
  });
});
