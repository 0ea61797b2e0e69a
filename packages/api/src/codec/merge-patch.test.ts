import { describe, expect, it } from "vitest";
import { applyMergePatch, createMergePatch } from "./merge-patch.js";

describe("applyMergePatch", () => {
  it("follows the examples of RFC 7386", () => {
    const cases: [unknown, unknown, unknown][] = [
      [{ a: "b" }, { a: "c" }, { a: "c" }],
      [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
      [{ a: "b" }, { a: null }, {}],
      [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
      [{ a: ["b"] }, { a: "c" }, { a: "c" }],
      [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
      [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
      [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
      [
        ["a", "b"],
        ["c", "d"],
        ["c", "d"],
      ],
      [{ a: "b" }, ["c"], ["c"]],
      [{ a: "foo" }, null, null],
      [{ a: "foo" }, "bar", "bar"],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [[1, 2], { a: "b", c: null }, { a: "b" }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [target, patch, result] of cases) expect(applyMergePatch(target, patch)).toStrictEqual(result);
  });

  it("leaves its arguments alone", () => {
    const target = { spec: { replicas: 1, template: { x: [1] } } };
    const patch = { spec: { replicas: 2 } };
    const out = applyMergePatch(target, patch) as typeof target;
    out.spec.template.x.push(2);
    expect(target).toStrictEqual({ spec: { replicas: 1, template: { x: [1] } } });
    expect(patch).toStrictEqual({ spec: { replicas: 2 } });
  });

  it("adds __proto__ as a plain key instead of changing the prototype", () => {
    const out = applyMergePatch({}, JSON.parse('{"__proto__": {"polluted": true}}')) as Record<
      string,
      unknown
    >;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("createMergePatch", () => {
  it("gives the patch that applyMergePatch turns back into the modified document", () => {
    const original = {
      metadata: { name: "web", labels: { app: "web", tier: "fe" }, resourceVersion: "7" },
      spec: { replicas: 3, template: { spec: { containers: [{ name: "c", image: "nginx:1.26" }] } } },
    };
    const modified = {
      metadata: { name: "web", labels: { app: "web", track: "stable" }, resourceVersion: "7" },
      spec: {
        replicas: 5,
        paused: true,
        template: { spec: { containers: [{ name: "c", image: "nginx:1.27" }] } },
      },
    };
    const patch = createMergePatch(original, modified);
    expect(patch).toStrictEqual({
      metadata: { labels: { tier: null, track: "stable" } },
      spec: {
        replicas: 5,
        paused: true,
        template: { spec: { containers: [{ name: "c", image: "nginx:1.27" }] } },
      },
    });
    expect(applyMergePatch(original, patch)).toStrictEqual(modified);
  });

  it("is undefined when nothing changed, whatever the key order", () => {
    expect(createMergePatch({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBeUndefined();
  });

  it("replaces a value that changed type", () => {
    expect(createMergePatch({ a: { b: 1 } }, { a: "x" })).toStrictEqual({ a: "x" });
    expect(createMergePatch({ a: "x" }, { a: { b: 1 } })).toStrictEqual({ a: { b: 1 } });
  });
});
