import { describe, expect, it } from "vitest";
import { getScaledValueFromIntOrPercent, isIntOrPercent, isIntValue, isValidPercent } from "./intstr.js";

describe("IntOrString", () => {
  it("scales percentages of a total, rounding as the caller asks", () => {
    // A Deployment of 10 with the default 25%: surge rounds up to 3, unavailable down to 2.
    expect(getScaledValueFromIntOrPercent("25%", 10, true)).toBe(3);
    expect(getScaledValueFromIntOrPercent("25%", 10, false)).toBe(2);
    expect(getScaledValueFromIntOrPercent("25%", 4, true)).toBe(1);
    expect(getScaledValueFromIntOrPercent("0%", 10, true)).toBe(0);
    expect(getScaledValueFromIntOrPercent("100%", 3, false)).toBe(3);
    expect(getScaledValueFromIntOrPercent("33%", 3, true)).toBe(1);
    expect(getScaledValueFromIntOrPercent("33%", 3, false)).toBe(0);
  });

  it("takes integers as they are, whatever the total", () => {
    expect(getScaledValueFromIntOrPercent("2", 10, true)).toBe(2);
    expect(getScaledValueFromIntOrPercent("7", 1, false)).toBe(7);
  });

  it("rejects names and malformed percentages", () => {
    expect(() => getScaledValueFromIntOrPercent("http", 10, true)).toThrow(
      "invalid type: string is not a percentage",
    );
    expect(() => getScaledValueFromIntOrPercent("x%", 10, true)).toThrow('invalid value "x%"');
  });

  it("tells integers, percentages and names apart", () => {
    expect(isIntOrPercent("3")).toBe(true);
    expect(isIntOrPercent("25%")).toBe(true);
    expect(isIntOrPercent("http")).toBe(false);
    expect(isIntOrPercent("2.5%")).toBe(false);
    expect(isIntValue("8080")).toBe(true);
    expect(isIntValue("25%")).toBe(false);
    expect(isValidPercent("25%")).toEqual([]);
    expect(isValidPercent("-5%")[0]).toMatch(/^a valid percent string must be a numeric string/);
  });
});
