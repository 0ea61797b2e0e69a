import { describe, expect, it } from "vitest";
import { decodeObject } from "../codec/json.js";
import { parseManifests } from "../codec/yaml.js";
import { fileDescriptorSet } from "../gen/descriptors.js";
import { Event } from "../gen/tskube/v1/core.js";
import { KINDS, type KubeObject } from "../kinds.js";
import { KIND_EXAMPLES } from "./examples.test-helper.js";

const NOW = Date.parse("2026-12-01T12:00:00Z");

/** "tskube.v1.Pod" for every message the generated descriptor set declares at top level. */
const DESCRIBED = new Set(
  fileDescriptorSet.file.flatMap((f) => (f.messageType ?? []).map((m) => `${f.package}.${m.name}`)),
);

/** The example as the apiserver would store it on create: decoded, placed, defaulted, prepared. */
function stored(kind: (typeof KINDS)[number]): KubeObject {
  const yaml = KIND_EXAMPLES[kind.kind];
  if (!yaml) throw new Error(`${kind.kind} has no example in examples.test-helper.ts`);
  const { kind: decodedKind, object } = decodeObject(parseManifests(yaml)[0]);
  expect(decodedKind).toBe(kind);
  object.metadata!.namespace = kind.namespaced ? "default" : "";
  object.metadata!.uid = "uid-1";
  object.metadata!.creationTimestamp = "2026-12-01T11:55:00Z";
  kind.strategy.applyDefaults(object);
  kind.strategy.prepareForCreate(object);
  return object;
}

describe.each(KINDS.map((k) => [k.kind, k] as const))("kind %s", (_, kind) => {
  it("is in the generated descriptor set, which reflection serves", () => {
    expect(DESCRIBED.has(kind.messageType.$type)).toBe(true);
  });

  it("has a strategy: the example validates, an empty object defaults and validates without throwing", () => {
    const obj = stored(kind);
    expect(kind.strategy.validate(obj).map(String)).toEqual([]);
    expect(kind.strategy.validateUpdate(structuredClone(obj), obj).map(String)).toEqual([]);
    expect(typeof kind.strategy.gracePeriod(obj, undefined)).toBe("number");
    const empty = kind.messageType.create();
    expect(() => {
      kind.strategy.applyDefaults(empty);
      kind.strategy.prepareForCreate(empty);
      kind.strategy.validate(empty);
      kind.strategy.selectableFields(empty);
      kind.strategy.blocksRemoval(empty);
    }).not.toThrow();
  });

  it("has printer columns beyond AGE whose rows fit the headers", () => {
    const cols = kind.printer.columns;
    expect(cols.headers.filter((h) => h !== "AGE").length).toBeGreaterThan(0);
    const obj = stored(kind);
    const row = cols.row(obj, NOW);
    expect(row).toHaveLength(cols.headers.length);
    expect(row.some((cell, i) => cols.headers[i] !== "AGE" && cell !== "")).toBe(true);
    expect(cols.wideRow(obj, NOW)).toHaveLength(cols.wide.length);
    expect(cols.row(kind.messageType.create(), NOW, true)).toHaveLength(cols.headers.length);
  });

  it("describes an object with its events", async () => {
    const obj = stored(kind);
    const looked: string[] = [];
    const event = Event.fromPartial({
      type: "Normal",
      reason: "WalkedThrough",
      message: "seen by the kind walk",
      count: 1,
      lastTimestamp: "2026-12-01T11:59:00Z",
      source: { component: "walker" },
    });
    const text = await kind.printer.describe(obj, {
      events: [event],
      now: NOW,
      get: async (k, namespace, name) => {
        looked.push(`${k.resource}/${namespace}/${name}`);
        return undefined;
      },
    });
    expect(text).toMatch(new RegExp(`^Name:\\s+${obj.metadata!.name}$`, "m"));
    expect(text).toContain("WalkedThrough");
    expect(text).toContain("seen by the kind walk");
    for (const l of looked) expect(l).toContain(obj.metadata!.name);
  });
});

describe("the kinds table", () => {
  it("names each kind, resource, short name and type once", () => {
    const names = KINDS.flatMap((k) => [k.kind, k.resource, k.messageType.$type, ...k.shortNames]);
    expect(new Set(names).size).toBe(names.length);
  });

  it("has an example for every kind and no example for a kind it does not serve", () => {
    expect(Object.keys(KIND_EXAMPLES).sort()).toEqual(KINDS.map((k) => k.kind).sort());
  });
});
