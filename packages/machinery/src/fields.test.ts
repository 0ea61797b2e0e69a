import { describe, expect, it } from "vitest";
import { parseFieldSelector } from "./fields.js";

describe("field selectors", () => {
  it("parses =, == and != and lists the fields used once", () => {
    const sel = parseFieldSelector(
      "metadata.name=web,spec.nodeName!=,status.phase==Running,metadata.name!=x",
    );
    expect(sel.requirements).toEqual([
      { field: "metadata.name", operator: "=", value: "web" },
      { field: "spec.nodeName", operator: "!=", value: "" },
      { field: "status.phase", operator: "=", value: "Running" },
      { field: "metadata.name", operator: "!=", value: "x" },
    ]);
    expect(sel.fieldNames()).toEqual(["metadata.name", "spec.nodeName", "status.phase"]);
    expect(sel.toString()).toBe("metadata.name=web,spec.nodeName!=,status.phase=Running,metadata.name!=x");
  });

  it("matches every requirement, a missing field counting as empty", () => {
    const sel = parseFieldSelector("spec.nodeName!=,status.phase!=Succeeded");
    expect(sel.matches({ "spec.nodeName": "node-1", "status.phase": "Running" })).toBe(true);
    expect(sel.matches({ "spec.nodeName": "node-1", "status.phase": "Succeeded" })).toBe(false);
    expect(sel.matches({ "status.phase": "Running" })).toBe(false);
    expect(parseFieldSelector("spec.nodeName=").matches({})).toBe(true);
    expect(parseFieldSelector("").empty()).toBe(true);
    expect(parseFieldSelector(undefined).matches({ a: "b" })).toBe(true);
  });

  it("unescapes \\, \\= and \\\\ in values and escapes them when printing", () => {
    const sel = parseFieldSelector("metadata.annotations=a\\,b\\=c\\\\d,reason=x");
    expect(sel.requirements[0]).toEqual({ field: "metadata.annotations", operator: "=", value: "a,b=c\\d" });
    expect(sel.requirements[1]!.value).toBe("x");
    expect(sel.toString()).toBe("metadata.annotations=a\\,b\\=c\\\\d,reason=x");
  });

  it("rejects what fields.ParseSelector rejects", () => {
    expect(() => parseFieldSelector("nonsense")).toThrow(
      "invalid selector: 'nonsense'; can't understand 'nonsense'",
    );
    expect(() => parseFieldSelector("=x")).toThrow(/can't understand '=x'/);
    expect(() => parseFieldSelector("a=b\\x")).toThrow(/invalid escape sequence/);
    expect(() => parseFieldSelector("a=b=c")).toThrow(/unescaped = in value/);
  });
});
