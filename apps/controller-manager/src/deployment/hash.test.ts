import { PodTemplateSpec } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { computeHash, equalIgnoreHash, fnv32a, POD_TEMPLATE_HASH_LABEL, safeEncodeString } from "./hash.js";

const tpl = (image: string, labels: Record<string, string> = { app: "web" }) =>
  PodTemplateSpec.fromPartial({ metadata: { labels }, spec: { containers: [{ name: "c", image }] } });

describe("pod-template-hash", () => {
  it("is fnv32a (the published test vectors)", () => {
    expect(fnv32a(new TextEncoder().encode(""))).toBe(0x811c9dc5);
    expect(fnv32a(new TextEncoder().encode("a"))).toBe(0xe40c292c);
    expect(fnv32a(new TextEncoder().encode("foobar"))).toBe(0xbf9cf968);
  });

  it("renders digits in the safe alphabet as rand.SafeEncodeString does", () => {
    // '0'..'9' are codes 48..57: 48 % 27 = 21 is '4', 57 % 27 = 3 is 'f'.
    expect(safeEncodeString("0123456789")).toBe("456789bcdf");
    expect(safeEncodeString("09")).toBe("4f");
  });

  it("is stable for a template, ignores map order and changes with the template or collisionCount", () => {
    const a = computeHash(tpl("nginx:1.25", { app: "web", tier: "front" }));
    expect(computeHash(tpl("nginx:1.25", { tier: "front", app: "web" }))).toBe(a);
    expect(a).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    expect(computeHash(tpl("nginx:1.26", { app: "web", tier: "front" }))).not.toBe(a);
    const c1 = computeHash(tpl("nginx:1.25"), 1);
    expect(c1).not.toBe(computeHash(tpl("nginx:1.25")));
    expect(c1).not.toBe(computeHash(tpl("nginx:1.25"), 2));
    expect(computeHash(tpl("nginx:1.25"), 1)).toBe(c1);
  });

  it("compares templates without the pod-template-hash label", () => {
    expect(
      equalIgnoreHash(tpl("nginx"), tpl("nginx", { app: "web", [POD_TEMPLATE_HASH_LABEL]: "abc" })),
    ).toBe(true);
    expect(
      equalIgnoreHash(PodTemplateSpec.fromPartial({}), tpl("x", { [POD_TEMPLATE_HASH_LABEL]: "h" })),
    ).toBe(false);
    expect(
      equalIgnoreHash(tpl("nginx"), tpl("nginx:2", { app: "web", [POD_TEMPLATE_HASH_LABEL]: "abc" })),
    ).toBe(false);
  });
});
