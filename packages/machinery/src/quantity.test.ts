import { describe, expect, it } from "vitest";
import { parseQuantity } from "./quantity.js";
import {
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  isValidPortName,
} from "./validation.js";

describe("quantities", () => {
  it("parses Kubernetes' suffixes exactly", () => {
    expect(parseQuantity("500m").milliValue()).toBe(500);
    expect(parseQuantity("1").milliValue()).toBe(1000);
    expect(parseQuantity("0.5").milliValue()).toBe(500);
    expect(parseQuantity("128Mi").value()).toBe(128 * 1024 * 1024);
    expect(parseQuantity("1Gi").value()).toBe(1024 ** 3);
    expect(parseQuantity("2G").value()).toBe(2e9);
    expect(parseQuantity("100k").value()).toBe(100_000);
    expect(parseQuantity("1e3").value()).toBe(1000);
    expect(parseQuantity("1.5Gi").value()).toBe(1.5 * 1024 ** 3);
    expect(parseQuantity("1n").milliValue()).toBe(1);
  });
  it("keeps nano precision and rounds Value/MilliValue away from zero", () => {
    expect(parseQuantity("1u").milliValue()).toBe(1);
    expect(parseQuantity("1500u").milliValue()).toBe(2);
    expect(parseQuantity("100m").value()).toBe(1);
    expect(parseQuantity("-100m").value()).toBe(-1);
    expect(parseQuantity("0.1n").nano).toBe(1n);
    expect(parseQuantity("1n").cmp(parseQuantity("2n"))).toBe(-1);
  });
  it.each([
    ["1000m", "1"],
    ["0.5", "500m"],
    ["1.5", "1500m"],
    ["1500", "1500"],
    ["2000", "2k"],
    ["1.5k", "1500"],
    ["100k", "100k"],
    ["2G", "2G"],
    ["1024Mi", "1Gi"],
    ["1.5Gi", "1536Mi"],
    ["0.5Ki", "512"],
    ["1Ki", "1Ki"],
    ["1025Ki", "1025Ki"],
    ["0.5Mi", "512Ki"],
    ["1e3", "1e3"],
    ["1.5e3", "1500"],
    ["1e-3", "1e-3"],
    ["12e2", "1200"],
    ["0", "0"],
    ["0Gi", "0"],
    ["-1.5", "-1500m"],
    ["+3", "3"],
    [".5", "500m"],
    ["1000E", "1e21"],
    ["100u", "100u"],
    ["1000n", "1u"],
  ])("prints %s canonically as %s", (input, canonical) => {
    expect(parseQuantity(input).toString()).toBe(canonical);
    expect(parseQuantity(canonical).cmp(parseQuantity(input))).toBe(0);
  });
  it("adds and subtracts exactly, keeping the left operand's format", () => {
    expect(parseQuantity("100m").add(parseQuantity("900m")).toString()).toBe("1");
    expect(parseQuantity("1Gi").sub(parseQuantity("512Mi")).toString()).toBe("512Mi");
    expect(parseQuantity("1Gi").add(parseQuantity("1")).toString()).toBe("1073741825");
    expect(parseQuantity("250m").sub(parseQuantity("1")).toString()).toBe("-750m");
    expect(JSON.stringify({ cpu: parseQuantity("0.25") })).toBe('{"cpu":"250m"}');
  });
  it("compares and rejects garbage", () => {
    expect(parseQuantity("1").cmp(parseQuantity("1000m"))).toBe(0);
    expect(parseQuantity("64Mi").cmp(parseQuantity("128Mi"))).toBe(-1);
    expect(() => parseQuantity("12 cores")).toThrow(/quantities must match/);
    expect(() => parseQuantity("1Zi")).toThrow();
    expect(() => parseQuantity("1K")).toThrow();
    expect(() => parseQuantity("")).toThrow();
    expect(() => parseQuantity("1.2.3")).toThrow();
  });
});

describe("names", () => {
  it("checks DNS-1123 names, qualified names, label values and port names", () => {
    expect(isDNS1123Subdomain("nginx-deployment")).toEqual([]);
    expect(isDNS1123Subdomain("Web_Server")[0]).toMatch(/^a lowercase RFC 1123 subdomain/);
    expect(isDNS1123Label("a.b")[0]).toMatch(/^a lowercase RFC 1123 label/);
    expect(isDNS1123Label("x".repeat(64))).toContain("must be no more than 63 characters");
    expect(isQualifiedName("app.kubernetes.io/name")).toEqual([]);
    expect(isQualifiedName("bad key!")[0]).toMatch(/^name part must consist of alphanumeric/);
    expect(isValidLabelValue("")).toEqual([]);
    expect(isValidLabelValue("-x")[0]).toMatch(/^a valid label must be an empty string/);
    expect(isValidPortName("http")).toEqual([]);
    expect(isValidPortName("80")).toContain("must contain at least one letter (a-z)");
  });
});
