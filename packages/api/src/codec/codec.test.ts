import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
  decodeObject,
  encodeObject,
  parseManifests,
  toYaml,
} from "./index.js";

const FIXTURES = join(import.meta.dirname, "../../../../test/integration/fixtures");

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  return "no error";
}

describe("manifest codec", () => {
  const docs = readdirSync(FIXTURES)
    .filter((f) => f.endsWith(".yaml"))
    .flatMap((f) => parseManifests(readFileSync(join(FIXTURES, f), "utf8"), f));

  it("round-trips the tutorial manifests exactly", () => {
    expect(docs.length).toBeGreaterThanOrEqual(6);
    for (const doc of docs) {
      const { object } = decodeObject(doc);
      const back = encodeObject(object);
      if ((doc as { kind: string }).kind === "Secret") {
        // stringData stays as written until the apiserver folds it into data.
        expect(back).toEqual(doc);
        continue;
      }
      expect(back).toEqual(doc);
    }
  });

  it("keeps IntOrString as written and presence of optional zeros", () => {
    const { object } = decodeObject({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d" },
      spec: { replicas: 0, strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: "25%" } } },
    });
    const spec = (
      object as unknown as { spec: { replicas: number; strategy: { rollingUpdate: { maxSurge: string } } } }
    ).spec;
    expect(spec.replicas).toBe(0);
    expect(spec.strategy.rollingUpdate.maxSurge).toBe("1");
    const json = encodeObject(object) as { spec: Record<string, unknown> };
    expect(json.spec.replicas).toBe(0);
    expect(json.spec.strategy).toEqual({ rollingUpdate: { maxSurge: 1, maxUnavailable: "25%" } });
  });

  it("rejects unknown kinds, unknown fields and wrong types with the field path", () => {
    expect(message(() => decodeObject({ apiVersion: "v1", kind: "Widget", metadata: { name: "w" } }))).toBe(
      'no matches for kind "Widget" in version "v1"',
    );
    expect(message(() => decodeObject({ apiVersion: "v1", metadata: { name: "w" } }))).toMatch(
      /^Object 'Kind' is missing in/,
    );
    expect(
      message(() =>
        decodeObject({
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "d" },
          spec: { replica: 1 },
        }),
      ),
    ).toBe('Deployment.apps "d" is invalid: strict decoding error: unknown field "spec.replica"');
    expect(
      message(() =>
        decodeObject({
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "d" },
          spec: { replicas: "three" },
        }),
      ),
    ).toBe('Deployment.apps "d" is invalid: spec.replicas: Invalid value: "three": expected an integer');
    expect(
      message(() =>
        decodeObject({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "p" },
          spec: { containers: [{ name: "c", ports: [{ containerPort: "80" }] }] },
        }),
      ),
    ).toBe(
      'Pod "p" is invalid: spec.containers[0].ports[0].containerPort: Invalid value: "80": expected an integer',
    );
    expect(
      message(() =>
        decodeObject({ apiVersion: "v1", kind: "Pod", metadata: { name: "p", labels: { a: 1 } } }),
      ),
    ).toBe('Pod "p" is invalid: metadata.labels[a]: Invalid value: 1: expected a string');
    expect(
      message(() =>
        decodeObject({
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "d" },
          spec: { replicas: 2 ** 40 },
        }),
      ),
    ).toMatch(/spec\.replicas: Invalid value: 1099511627776: must be between/);
  });

  it("reports malformed YAML with the source and line", () => {
    expect(message(() => parseManifests("a: 1\nb: [oops\n", "bad.yaml"))).toMatch(
      /^error parsing bad\.yaml: line \d+: /,
    );
  });

  it("prints YAML as kubectl does", () => {
    expect(toYaml({ spec: { containers: [{ name: "a", args: ["x"] }], replicas: "1" } })).toBe(
      'spec:\n  containers:\n  - name: a\n    args:\n    - x\n  replicas: "1"\n',
    );
  });
});

describe("patches", () => {
  it("applies JSON merge patches", () => {
    expect(applyMergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: 5 })).toEqual({
      a: 1,
      b: { d: 3, e: 4 },
      f: 5,
    });
  });
  it("applies JSON patches and reports bad paths", () => {
    expect(
      applyJsonPatch({ a: [1, 2], b: "x" }, [
        { op: "add", path: "/a/-", value: 3 },
        { op: "replace", path: "/b", value: "y" },
        { op: "remove", path: "/a/0" },
        { op: "test", path: "/b", value: "y" },
      ]),
    ).toEqual({ a: [2, 3], b: "y" });
    expect(message(() => applyJsonPatch({}, [{ op: "remove", path: "/missing" }]))).toMatch(/does not exist/);
  });
  it("merges containers by name in strategic merge patches", () => {
    const pod = {
      spec: {
        containers: [
          { name: "a", image: "a:1" },
          { name: "b", image: "b:1" },
        ],
      },
    };
    expect(applyStrategicMergePatch(pod, { spec: { containers: [{ name: "b", image: "b:2" }] } })).toEqual({
      spec: {
        containers: [
          { name: "a", image: "a:1" },
          { name: "b", image: "b:2" },
        ],
      },
    });
    expect(
      applyStrategicMergePatch(pod, { spec: { containers: [{ name: "a", $patch: "delete" }] } }),
    ).toEqual({
      spec: { containers: [{ name: "b", image: "b:1" }] },
    });
  });
});
