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
  it("compares and rejects garbage", () => {
    expect(parseQuantity("1").cmp(parseQuantity("1000m"))).toBe(0);
    expect(parseQuantity("64Mi").cmp(parseQuantity("128Mi"))).toBe(-1);
    expect(() => parseQuantity("12 cores")).toThrow(/quantities must match/);
    expect(() => parseQuantity("1Zi")).toThrow();
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
