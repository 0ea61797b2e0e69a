import { describe, expect, it } from "vitest";
import { ApiError } from "./errors.js";
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
    expect(() => parseSelector("env in (prod")).toThrow("found 'EOS', expected: ',', or ')'");
  });
  it("validates keys and values as labels.NewRequirement does, with its wording", () => {
    expect(() => parseSelector("missionControl/type=x")).toThrow(
      /^unable to parse requirement: <nil>: Invalid value: "missionControl\/type": prefix part a lowercase RFC 1123 subdomain/,
    );
    expect(() => parseSelector("app=-web")).toThrow(
      /^unable to parse requirement: <nil>: Invalid value: "-web": a valid label must be an empty string/,
    );
    expect(() => parseSelector("env in ()")).toThrow(
      "for 'in', 'notin' operators, values set can't be empty",
    );
    expect(() => parseSelector("replicas>x")).toThrow(
      "for 'Gt', 'Lt' operators, the value must be an integer",
    );
    expect(() => parseSelector("a@b")).toThrow(/Invalid value: "a@b": name part must consist/);
    try {
      parseSelector("app=-web");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).reason).toBe("BadRequest");
    }
  });
  it("accepts empty values, prefixed keys and numeric comparisons", () => {
    expect(parseSelector("app=").matches({ app: "" })).toBe(true);
    expect(parseSelector("app=").matches({ app: "web" })).toBe(false);
    expect(parseSelector("app.kubernetes.io/name=web").matches({ "app.kubernetes.io/name": "web" })).toBe(
      true,
    );
    expect(parseSelector("gen>2").matches({ gen: "3" })).toBe(true);
    expect(parseSelector("gen<2").matches({ gen: "3" })).toBe(false);
    expect(parseSelector("gen>2").matches({ gen: "three" })).toBe(false);
    expect(parseSelector("env notin (qa)").matches({})).toBe(true);
    expect(parseSelector("env in (qa)").matches(undefined)).toBe(false);
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
    expect(sel.toString()).toBe("app=web,!canary,env in (prod)");
  });
  it("rejects LabelSelectors that LabelSelectorAsSelector rejects", () => {
    expect(() =>
      selectorFromLabelSelector({ matchExpressions: [{ key: "env", operator: "Near", values: [] }] }),
    ).toThrow('"Near" is not a valid label selector operator');
    expect(() =>
      selectorFromLabelSelector({ matchExpressions: [{ key: "env", operator: "In", values: [] }] }),
    ).toThrow("values set can't be empty");
    expect(() =>
      selectorFromLabelSelector({ matchExpressions: [{ key: "env", operator: "Exists", values: ["x"] }] }),
    ).toThrow("values set must be empty for exists and does not exist");
    expect(() => selectorFromLabelSelector({ matchLabels: { "bad key": "x" } })).toThrow(
      /Invalid value: "bad key"/,
    );
  });
});
