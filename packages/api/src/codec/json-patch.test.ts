import { ApiError } from "@tskube/machinery";
import { describe, expect, it } from "vitest";
import { applyJsonPatch } from "./json-patch.js";

function failure(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error("expected an ApiError");
}

describe("applyJsonPatch", () => {
  it("adds, removes and replaces members and list items", () => {
    const doc = { metadata: { labels: { a: "1" } }, spec: { args: ["x", "y"] } };
    expect(
      applyJsonPatch(doc, [
        { op: "add", path: "/metadata/labels/b", value: "2" },
        { op: "add", path: "/spec/args/-", value: "z" },
        { op: "add", path: "/spec/args/0", value: "w" },
        { op: "remove", path: "/spec/args/1" },
        { op: "replace", path: "/metadata/labels/a", value: "one" },
        { op: "replace", path: "/spec/args/0", value: "W" },
      ]),
    ).toStrictEqual({ metadata: { labels: { a: "one", b: "2" } }, spec: { args: ["W", "y", "z"] } });
    expect(doc).toStrictEqual({ metadata: { labels: { a: "1" } }, spec: { args: ["x", "y"] } });
  });

  it("moves, copies and tests, with JSON pointer escapes", () => {
    const doc = {
      metadata: { annotations: { "example.com/a~b": "v" } },
      spec: { a: { x: 1 }, list: [1, 2] },
    };
    expect(
      applyJsonPatch(doc, [
        { op: "test", path: "/metadata/annotations/example.com~1a~0b", value: "v" },
        { op: "copy", from: "/spec/a", path: "/spec/b" },
        { op: "move", from: "/spec/list/0", path: "/spec/list/-" },
        { op: "move", from: "/spec/a", path: "/spec/c" },
        { op: "test", path: "/spec", value: { list: [2, 1], b: { x: 1 }, c: { x: 1 } } },
        { op: "test", path: "/spec/missing", value: null },
      ]),
    ).toStrictEqual({
      metadata: { annotations: { "example.com/a~b": "v" } },
      spec: { list: [2, 1], b: { x: 1 }, c: { x: 1 } },
    });
    expect(applyJsonPatch({ a: 1 }, [{ op: "replace", path: "", value: { b: 2 } }])).toStrictEqual({ b: 2 });
  });

  it("answers Invalid, in the words of Kubernetes' JSON patch library, when a patch does not apply", () => {
    const doc = { spec: { args: ["x"], n: 1 } };
    const cases: [unknown[], string][] = [
      [
        [{ op: "remove", path: "/spec/missing" }],
        'remove operation does not apply: doc is missing path: "/spec/missing"',
      ],
      [
        [{ op: "remove", path: "/spec/args/1" }],
        'remove operation does not apply: doc is missing path: "/spec/args/1"',
      ],
      [
        [{ op: "add", path: "/status/phase", value: "x" }],
        'add operation does not apply: doc is missing path: "/status/phase"',
      ],
      [
        [{ op: "add", path: "/spec/args/5", value: "x" }],
        'add operation does not apply: index out of range in path: "/spec/args/5"',
      ],
      [
        [{ op: "replace", path: "/spec/m", value: 1 }],
        "replace operation does not apply: doc is missing key: /spec/m",
      ],
      [
        [{ op: "move", from: "/spec/m", path: "/spec/o" }],
        "move operation does not apply: doc is missing from path: /spec/m",
      ],
      [
        [{ op: "move", from: "/spec", path: "/spec/inner" }],
        "move operation does not apply: cannot move /spec into its own child /spec/inner",
      ],
      [
        [{ op: "copy", from: "/spec/m", path: "/spec/o" }],
        'copy operation does not apply: doc is missing from path: "/spec/m"',
      ],
      [[{ op: "test", path: "/spec/n", value: 2 }], "testing value /spec/n failed: test failed"],
      [[{ op: "test", path: "/spec", value: { n: 1 } }], "testing value /spec failed: test failed"],
    ];
    for (const [ops, message] of cases) {
      const err = failure(() => applyJsonPatch(doc, ops));
      expect(err.message).toBe(message);
      expect(err.reason).toBe("Invalid");
    }
  });

  it("answers BadRequest for a malformed patch, before applying any of it", () => {
    const cases: [unknown, string][] = [
      [{ op: "add" }, "json patch: the patch must be a list of operations"],
      [
        [{ op: "frobnicate", path: "/a" }],
        'json patch: unsupported operation {"op":"frobnicate","path":"/a"}',
      ],
      [["add"], 'json patch: unsupported operation "add"'],
      [[{ op: "add", path: "/a" }], 'operation {"op":"add","path":"/a"} is missing "value"'],
      [[{ op: "remove" }], 'operation {"op":"remove"} is missing "path"'],
      [[{ op: "copy", path: "/a" }], 'operation {"op":"copy","path":"/a"} is missing "from"'],
      [[{ op: "remove", path: "a" }], 'invalid JSON pointer "a" in operation {"op":"remove","path":"a"}'],
      [
        [
          { op: "remove", path: "/missing" },
          { op: "bogus", path: "/a" },
        ],
        'json patch: unsupported operation {"op":"bogus","path":"/a"}',
      ],
    ];
    for (const [ops, message] of cases) {
      const err = failure(() => applyJsonPatch({ a: 1 }, ops));
      expect(err.message).toBe(message);
      expect(err.reason).toBe("BadRequest");
    }
  });

  it("applies all or nothing", () => {
    const doc = { a: 1 };
    failure(() =>
      applyJsonPatch(doc, [
        { op: "replace", path: "/a", value: 2 },
        { op: "test", path: "/a", value: 3 },
      ]),
    );
    expect(doc).toStrictEqual({ a: 1 });
  });
});
