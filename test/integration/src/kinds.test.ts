import { decodeObject, KINDS, type KubeObject, parseManifests } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { describeObject } from "../../../apps/ktl/src/commands/describe.js";
import { apiResources } from "../../../apps/ktl/src/commands/info.js";
import type { Context } from "../../../apps/ktl/src/context.js";
import { printTable } from "../../../apps/ktl/src/printers/print.js";
import { KIND_EXAMPLES } from "../../../packages/api/src/kinds/examples.test-helper.js";
import { useCluster } from "./cluster.js";

/**
 * The kind walk against a real apiserver: every served kind's example is created through the API
 * (server-side defaulting, preparation and validation), then printed by ktl's own `get` table and
 * `describe` code from the stored object, and listed by `ktl api-resources` from discovery.
 */
describe("every served kind", () => {
  const c = useCluster();

  const ktlContext = (): Context & { text: string } => {
    const ctx = {
      config: { servers: c.servers, namespace: "default", source: "test" },
      namespace: "default",
      namespaceExplicit: false,
      client: () => c.client,
      text: "",
      out(t: string) {
        ctx.text += t;
      },
      err(t: string) {
        throw new Error(`ktl error: ${t}`);
      },
      close() {},
      failed: false,
    };
    return ctx;
  };

  it.each(KINDS.map((k) => [k.kind, k] as const))("%s: created, printed and described", async (_, kind) => {
    const yaml = KIND_EXAMPLES[kind.kind];
    expect(yaml, `${kind.kind} has no example in examples.test-helper.ts`).toBeDefined();
    const { object } = decodeObject(parseManifests(yaml!)[0]);
    const namespace = kind.namespaced ? "default" : "";
    const resource = c.client.resource<KubeObject>(kind);
    object.metadata!.namespace = namespace;
    const created = await resource.create(object);
    const obj = await resource.get(created.metadata!.name, { namespace });
    expect(obj.metadata!.uid).toBe(created.metadata!.uid);

    const table = printTable(kind, [obj], {
      output: "wide",
      showLabels: false,
      allNamespaces: false,
      showKind: false,
      noHeaders: false,
      now: Date.now(),
    });
    const [header, row, ...rest] = table.trimEnd().split("\n");
    expect(rest).toEqual([]);
    const headers = header!.split(/ {3,}/);
    expect(headers.filter((h) => h !== "NAME" && h !== "AGE").length).toBeGreaterThan(0);
    for (const h of [...kind.printer.columns.headers, ...kind.printer.columns.wide])
      expect(header).toContain(h);
    if (!kind.printer.columns.withoutName) expect(row!.startsWith(obj.metadata!.name)).toBe(true);

    const described = await describeObject(ktlContext(), kind, obj);
    expect(described).toMatch(new RegExp(`^Name:\\s+${obj.metadata!.name}$`, "m"));
    expect(described).toMatch(/^Events:/m);
  });

  it("lists every kind in ktl api-resources as discovery serves it", async () => {
    const ctx = ktlContext();
    await apiResources(ctx);
    const rows = ctx.text.trimEnd().split("\n");
    expect(rows[0]!.split(/\s+/)).toEqual(["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]);
    const cells = new Map(rows.slice(1).map((r) => [r.split(/\s+/)[0], r] as const));
    expect([...cells.keys()].sort()).toEqual(KINDS.map((k) => k.resource).sort());
    for (const k of KINDS) {
      const apiVersion = k.group ? `${k.group}/${k.version}` : k.version;
      const expected = [k.resource, ...(k.shortNames.length ? [k.shortNames.join(",")] : []), apiVersion];
      expect(cells.get(k.resource)!.split(/\s+/)).toEqual([...expected, String(k.namespaced), k.kind]);
    }
  });
});
