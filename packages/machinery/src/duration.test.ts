import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.js";

describe("parseDuration", () => {
  it("reads Go-style durations", () => {
    expect(parseDuration("10s")).toBe(10_000);
    expect(parseDuration("1m30s")).toBe(90_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("1.5s")).toBe(1500);
    expect(parseDuration("40")).toBe(40_000);
  });
  it("rejects garbage", () => {
    expect(() => parseDuration("10x")).toThrow(/invalid duration/);
    expect(() => parseDuration("s")).toThrow(/invalid duration/);
    expect(() => parseDuration("10s junk")).toThrow(/invalid duration/);
  });
  it("formats like Go", () => {
    expect(formatDuration(90_000)).toBe("1m30s");
    expect(formatDuration(500)).toBe("500ms");
    expect(formatDuration(3_600_000)).toBe("1h0m0s");
  });
});
