import { ApiError } from "@tskube/machinery";
import { describe, expect, it } from "vitest";
import type { Deployment } from "../gen/index.js";
import { decodeObject } from "./decode.js";
import { encodeObject } from "./encode.js";
import { applyStrategicMergePatch } from "./strategic-merge-patch.js";

function failure(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error("expected an ApiError");
}

const pod = <S extends Record<string, unknown>>(
  spec: S,
  metadata: Record<string, unknown> = { name: "p" },
) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata,
  spec,
});

const specOf = (v: unknown) => (v as { spec: Record<string, unknown> }).spec;
const names = (list: unknown) => (list as { name: string }[]).map((c) => c.name);

describe("applyStrategicMergePatch", () => {
  const live = pod({
    containers: [
      {
        name: "a",
        image: "a:1",
        args: ["x", "y"],
        env: [
          { name: "E1", value: "1" },
          { name: "E2", value: "2" },
        ],
      },
      { name: "b", image: "b:1", ports: [{ containerPort: 80, name: "http" }] },
    ],
    tolerations: [{ key: "k1", operator: "Exists" }],
  });

  it("merges containers by name and keeps the others in place", () => {
    const out = applyStrategicMergePatch(live, { spec: { containers: [{ name: "b", image: "b:2" }] } });
    expect(specOf(out).containers).toStrictEqual([
      live.spec.containers[0],
      { name: "b", image: "b:2", ports: [{ containerPort: 80, name: "http" }] },
    ]);
    expect(live.spec.containers[1]!.image).toBe("b:1");
  });

  it("puts items the live list does not know first, as Kubernetes orders merged lists", () => {
    const out = applyStrategicMergePatch(live, { spec: { containers: [{ name: "c", image: "c:1" }] } });
    expect(names(specOf(out).containers)).toEqual(["c", "a", "b"]);
    const both = applyStrategicMergePatch(live, { spec: { containers: [{ name: "b" }, { name: "a" }] } });
    expect(names(specOf(both).containers)).toEqual(["b", "a"]);
  });

  it("merges env and volumeMounts by name and mountPath, ports by containerPort, deep inside containers", () => {
    const out = applyStrategicMergePatch(live, {
      spec: {
        containers: [
          { name: "a", env: [{ name: "E2", value: "two" }] },
          {
            name: "b",
            ports: [{ containerPort: 80, protocol: "TCP" }],
            volumeMounts: [{ mountPath: "/m", name: "v" }],
          },
        ],
      },
    });
    const [a, b] = specOf(out).containers as Record<string, unknown>[];
    expect(a!.env).toStrictEqual([
      { name: "E1", value: "1" },
      { name: "E2", value: "two" },
    ]);
    expect(b!.ports).toStrictEqual([{ containerPort: 80, name: "http", protocol: "TCP" }]);
    expect(b!.volumeMounts).toStrictEqual([{ mountPath: "/m", name: "v" }]);
  });

  it("replaces lists Kubernetes does not merge: args, tolerations", () => {
    const out = applyStrategicMergePatch(live, {
      spec: { containers: [{ name: "a", args: ["z"] }], tolerations: [{ key: "k2", operator: "Exists" }] },
    });
    expect((specOf(out).containers as Record<string, unknown>[])[0]!.args).toStrictEqual(["z"]);
    expect(specOf(out).tolerations).toStrictEqual([{ key: "k2", operator: "Exists" }]);
  });

  it("merges Service ports by port, not by containerPort", () => {
    const svc = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "s" },
      spec: {
        ports: [
          { name: "http", port: 80, targetPort: 8080 },
          { name: "https", port: 443 },
        ],
      },
    };
    const out = applyStrategicMergePatch(svc, { spec: { ports: [{ port: 80, targetPort: "web" }] } });
    expect(specOf(out).ports).toStrictEqual([
      { name: "http", port: 80, targetPort: "web" },
      { name: "https", port: 443 },
    ]);
  });

  it("merges conditions by type", () => {
    const status = {
      conditions: [
        { type: "Ready", status: "False" },
        { type: "PodScheduled", status: "True" },
      ],
    };
    const out = applyStrategicMergePatch(
      { ...pod({}), status },
      { status: { conditions: [{ type: "Ready", status: "True" }] } },
    ) as { status: typeof status };
    expect(out.status.conditions).toStrictEqual([
      { type: "Ready", status: "True" },
      { type: "PodScheduled", status: "True" },
    ]);
  });

  it("deletes list items with $patch: delete and replaces lists with $patch: replace", () => {
    const deleted = applyStrategicMergePatch(live, {
      spec: { containers: [{ name: "a", $patch: "delete" }] },
    });
    expect(names(specOf(deleted).containers)).toEqual(["b"]);
    const replaced = applyStrategicMergePatch(live, {
      spec: { containers: [{ $patch: "replace" }, { name: "z", image: "z:1" }] },
    });
    expect(specOf(replaced).containers).toStrictEqual([{ name: "z", image: "z:1" }]);
  });

  it("deletes map keys with null and replaces or empties maps with $patch", () => {
    const meta = { name: "p", labels: { a: "1", b: "2" }, annotations: { x: "1" } };
    const out = applyStrategicMergePatch(pod({}, meta), {
      metadata: { labels: { a: null, c: "3" }, annotations: { $patch: "replace", y: "2" } },
    }) as { metadata: unknown };
    expect(out.metadata).toStrictEqual({ name: "p", labels: { b: "2", c: "3" }, annotations: { y: "2" } });
    const emptied = applyStrategicMergePatch(pod({}, meta), {
      metadata: { labels: { $patch: "delete" } },
    }) as {
      metadata: { labels: unknown };
    };
    expect(emptied.metadata.labels).toStrictEqual({});
  });

  it("merges finalizers as a set and deletes from it with $deleteFromPrimitiveList", () => {
    const withFinalizers = pod({}, { name: "p", finalizers: ["a", "b"] });
    const added = applyStrategicMergePatch(withFinalizers, { metadata: { finalizers: ["b", "c"] } }) as {
      metadata: { finalizers: string[] };
    };
    expect(added.metadata.finalizers).toEqual(["a", "b", "c"]);
    const prepended = applyStrategicMergePatch(withFinalizers, { metadata: { finalizers: ["c"] } }) as {
      metadata: { finalizers: string[] };
    };
    expect(prepended.metadata.finalizers).toEqual(["c", "a", "b"]);
    const removed = applyStrategicMergePatch(withFinalizers, {
      metadata: { "$deleteFromPrimitiveList/finalizers": ["a"] },
    }) as { metadata: { finalizers: string[] } };
    expect(removed.metadata.finalizers).toEqual(["b"]);
  });

  it("clears the keys $retainKeys leaves out, as kubectl switches a Deployment to Recreate", () => {
    const d = encodeObject(
      decodeObject({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "d" },
        spec: { strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1 } } },
      }).object,
    );
    const out = applyStrategicMergePatch(d, {
      spec: { strategy: { $retainKeys: ["type"], type: "Recreate" } },
    });
    expect((decodeObject(out).object as Deployment).spec?.strategy).toMatchObject({
      type: "Recreate",
      rollingUpdate: undefined,
    });
    expect(
      failure(() => applyStrategicMergePatch(d, { spec: { strategy: { $retainKeys: [], type: "x" } } }))
        .message,
    ).toBe("invalid patch format of retainKeys");
  });

  it("orders a merged list by $setElementOrder", () => {
    const out = applyStrategicMergePatch(live, {
      spec: {
        "$setElementOrder/containers": [{ name: "b" }, { name: "c" }, { name: "a" }],
        containers: [{ name: "c", image: "c:1" }],
      },
    });
    expect(names(specOf(out).containers)).toEqual(["b", "c", "a"]);
  });

  it("patches a partial structure named by its type", () => {
    const out = applyStrategicMergePatch(
      { containers: [{ name: "a", image: "a:1" }] },
      { containers: [{ name: "a", image: "a:2" }] },
      "tskube.v1.PodSpec",
    );
    expect(out).toStrictEqual({ containers: [{ name: "a", image: "a:2" }] });
  });

  it("gives a result that decodes, with directives gone from new values too", () => {
    const out = applyStrategicMergePatch(pod({}), {
      spec: {
        containers: [
          { name: "a", image: "a:1" },
          { name: "gone", $patch: "delete" },
        ],
        volumes: [{ name: "v", emptyDir: {} }],
      },
    });
    expect(specOf(out).containers).toStrictEqual([{ name: "a", image: "a:1" }]);
    expect(() => decodeObject(out)).not.toThrow();
  });

  it("rejects malformed patches in Kubernetes' words", () => {
    const cases: [unknown, string][] = [
      [
        { spec: { containers: [{ image: "x" }] } },
        'map: {"image":"x"} does not contain declared merge key: name',
      ],
      [
        { spec: { containers: [{ $patch: "delete" }] } },
        'map: {"$patch":"delete"} does not contain declared merge key: name',
      ],
      [{ spec: { containers: ["x"] } }, "expected a map, but received a string"],
      [
        { spec: { containers: [{ name: "a", $patch: "merge" }] } },
        "merging lists cannot yet be specified in the patch",
      ],
      [
        { spec: { containers: [{ name: "a", $patch: "bogus" }] } },
        'unknown patch type: "bogus" in map: {"name":"a","$patch":"bogus"}',
      ],
      [
        { metadata: { labels: { $patch: "bogus" } } },
        'unknown patch type: "bogus" in map: {"$patch":"bogus"}',
      ],
      [
        { metadata: { "$deleteFromPrimitiveList/finalizers": "a" } },
        "invalid patch format of primitive list",
      ],
      [[1], "strategic merge patch: the patch must be a JSON object"],
    ];
    for (const [patch, message] of cases) {
      const err = failure(() => applyStrategicMergePatch(live, patch));
      expect(err.message).toBe(message);
      expect(err.reason).toBe("BadRequest");
    }
    expect(failure(() => applyStrategicMergePatch({ kind: "Widget", apiVersion: "v1" }, {})).message).toBe(
      'strategic merge patch: no matches for kind "Widget" in version "v1"',
    );
  });
});
