import { ApiError } from "@tskube/machinery";
import { describe, expect, it } from "vitest";
import { toJson } from "./to-json.js";
import { parseManifests, toYaml } from "./yaml.js";

function failure(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error("expected an ApiError");
}

describe("parseManifests", () => {
  it("reads every document and skips empty ones", () => {
    const text =
      "---\napiVersion: v1\nkind: Pod\n---\n# only a comment\n---\n\n---\napiVersion: v1\nkind: Service\n...\n";
    expect(parseManifests(text)).toEqual([
      { apiVersion: "v1", kind: "Pod" },
      { apiVersion: "v1", kind: "Service" },
    ]);
    expect(parseManifests("")).toEqual([]);
  });

  it("reads JSON, which is YAML", () => {
    expect(parseManifests('{"apiVersion": "v1", "kind": "Pod", "spec": {"containers": []}}')).toEqual([
      { apiVersion: "v1", kind: "Pod", spec: { containers: [] } },
    ]);
  });

  it("expands kind: List and typed lists into their items", () => {
    const text = [
      "apiVersion: v1",
      "kind: List",
      "items:",
      "- apiVersion: v1",
      "  kind: ConfigMap",
      "  metadata: {name: a}",
      "- apiVersion: v1",
      "  kind: List",
      "  items:",
      "  - {apiVersion: v1, kind: Secret, metadata: {name: b}}",
      "---",
      "apiVersion: v1",
      "kind: PodList",
      "metadata: {resourceVersion: '7'}",
      "items:",
      "- metadata: {name: c}",
      "---",
      "apiVersion: v1",
      "kind: List",
      "items: []",
      "---",
      "apiVersion: v1",
      "kind: WidgetList",
    ].join("\n");
    expect(parseManifests(text)).toEqual([
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" } },
      { apiVersion: "v1", kind: "Secret", metadata: { name: "b" } },
      { apiVersion: "v1", kind: "Pod", metadata: { name: "c" } },
      // Without items it is not a list, and decoding will name the unknown kind.
      { apiVersion: "v1", kind: "WidgetList" },
    ]);
  });

  it("reads YAML 1.1 as Kubernetes does: octal modes, yes/on booleans, merge keys, timestamps as strings", () => {
    const [doc] = parseManifests(
      [
        "mode: 0644",
        "plain: 644",
        "yes: on",
        "flag: no",
        "when: 2024-01-02T03:04:05Z",
        "ratio: 1:20",
        "base: &base {a: 1}",
        "merged:",
        "  <<: *base",
        "  b: 2",
      ].join("\n"),
    );
    expect(doc).toEqual({
      mode: 420,
      plain: 644,
      true: true,
      flag: false,
      when: "2024-01-02T03:04:05Z",
      ratio: "1:20",
      base: { a: 1 },
      merged: { a: 1, b: 2 },
    });
  });

  it("reports malformed YAML with the source and the line", () => {
    const err = failure(() =>
      parseManifests("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [oops\n", "deploy.yaml"),
    );
    expect(err.reason).toBe("BadRequest");
    expect(err.message).toMatch(/^error parsing deploy\.yaml: line 4: \S/);
    expect(failure(() => parseManifests("a: 1\n---\nb: 1\nb: 2\n", "dup.yaml")).message).toBe(
      "error parsing dup.yaml: line 4: Map keys must be unique",
    );
    expect(failure(() => parseManifests("a:\n\tb: 1\n")).message).toMatch(/^error parsing STDIN: line 2: /);
  });

  it("refuses alias bombs", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]", "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]"];
    bomb.push(
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
    );
    expect(failure(() => parseManifests(bomb.join("\n"), "bomb.yaml")).message).toMatch(
      /^error parsing bomb\.yaml: line 1: .*alias/i,
    );
  });
});

describe("toYaml", () => {
  it("prints as kubectl does: block style, 2 spaces, list items flush with their key", () => {
    expect(
      toYaml({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", labels: { app: "web" }, annotations: {} },
        spec: {
          replicas: 3,
          template: {
            spec: {
              containers: [{ name: "nginx", args: ["-g", "daemon off;"], ports: [{ containerPort: 80 }] }],
              volumes: [{ name: "cache", emptyDir: {} }],
            },
          },
        },
      }),
    ).toBe(
      [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata:",
        "  name: web",
        "  labels:",
        "    app: web",
        "  annotations: {}",
        "spec:",
        "  replicas: 3",
        "  template:",
        "    spec:",
        "      containers:",
        "      - name: nginx",
        "        args:",
        "        - -g",
        "        - daemon off;",
        "        ports:",
        "        - containerPort: 80",
        "      volumes:",
        "      - name: cache",
        "        emptyDir: {}",
        "",
      ].join("\n"),
    );
  });

  it("quotes strings YAML 1.1 would read as something else, and uses | blocks for multi-line text", () => {
    const value = {
      a: "yes",
      b: "0755",
      c: "2024-01-02T03:04:05Z",
      d: "1",
      e: "",
      f: "line one\nline two\n",
      g: "x".repeat(120),
      h: "null",
    };
    const text = toYaml(value);
    expect(text).toBe(
      [
        'a: "yes"',
        'b: "0755"',
        'c: "2024-01-02T03:04:05Z"',
        'd: "1"',
        'e: ""',
        "f: |",
        "  line one",
        "  line two",
        `g: ${"x".repeat(120)}`,
        'h: "null"',
        "",
      ].join("\n"),
    );
    expect(parseManifests(text)).toEqual([value]);
  });
});

describe("toJson", () => {
  it("prints as kubectl -o json does: 4 spaces, Go's escaping, a final newline", () => {
    expect(toJson({ kind: "Pod", metadata: { annotations: { cmd: "a && b <c>" } }, items: [] })).toBe(
      [
        "{",
        '    "kind": "Pod",',
        '    "metadata": {',
        '        "annotations": {',
        '            "cmd": "a \\u0026\\u0026 b \\u003cc\\u003e"',
        "        }",
        "    },",
        '    "items": []',
        "}",
        "",
      ].join("\n"),
    );
    expect(JSON.parse(toJson({ s: "<&>\u2028" }))).toEqual({ s: "<&>\u2028" });
  });
});
