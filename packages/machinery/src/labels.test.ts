import { describe, expect, it } from "vitest";
import { parseFieldSelector } from "./fields.js";
import { parseSelector, selectorFromLabelSelector, selectorFromSet } from "./labels.js";

describe("label selectors", () => {
  const web = { app: "web", env: "prod", tier: "frontend" };
  it("parses equality and set-based requirements", () => {
    expect(parseSelector("app=web").matches(web)).toBe(true);
    expect(parseSelector("app==web,env!=qa").matches(web)).toBe(true);
    expect(parseSelector("env in (prod, qa),tier notin (backend)").matches(web)).toBe(true);
    expect(parseSelector("env in (qa)").matches(web)).toBe(false);
    expect(parseSelector("tier").matches(web)).toBe(true);
    expect(parseSelector("!tier").matches(web)).toBe(false);
    expect(parseSelector("!partition").matches(web)).toBe(true);
    expect(parseSelector("partition!=x").matches(web)).toBe(true);
    expect(parseSelector("").empty()).toBe(true);
    expect(parseSelector("").matches(web)).toBe(true);
  });
  it("prints a canonical form", () => {
    expect(parseSelector("tier notin (b,a), app=web").toString()).toBe("app=web,tier notin (a,b)");
  });
  it("rejects malformed selectors", () => {
    expect(() => parseSelector("app=web,")).toThrow(/unable to parse requirement/);
    expect(() => parseSelector("env in prod")).toThrow(/expected: '\('/);
    expect(() => parseSelector("a b")).toThrow(/unable to parse requirement/);
  });
  it("follows LabelSelectorAsSelector: nil matches nothing, empty matches everything", () => {
    expect(selectorFromLabelSelector(undefined).matches(web)).toBe(false);
    expect(selectorFromLabelSelector({}).matches(web)).toBe(true);
    const sel = selectorFromLabelSelector({
      matchLabels: { app: "web" },
      matchExpressions: [
        { key: "env", operator: "In", values: ["prod"] },
        { key: "canary", operator: "DoesNotExist", values: [] },
      ],
    });
    expect(sel.matches(web)).toBe(true);
    expect(sel.matches({ ...web, canary: "1" })).toBe(false);
    expect(selectorFromSet({ app: "web" }).matches({ app: "db" })).toBe(false);
  });
});

describe("field selectors", () => {
  it("matches = and != and lists the fields used", () => {
    const sel = parseFieldSelector("spec.nodeName=node-1,status.phase!=Succeeded");
    expect(sel.fieldNames()).toEqual(["spec.nodeName", "status.phase"]);
    expect(sel.matches({ "spec.nodeName": "node-1", "status.phase": "Running" })).toBe(true);
    expect(sel.matches({ "spec.nodeName": "node-2", "status.phase": "Running" })).toBe(false);
    expect(parseFieldSelector("spec.nodeName=").matches({ "spec.nodeName": "" })).toBe(true);
    expect(() => parseFieldSelector("nonsense")).toThrow(/invalid selector/);
  });
});
