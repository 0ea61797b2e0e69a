import { ConfigMap, KINDS, Namespace } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";

const cmKind = KINDS.find((k) => k.kind === "ConfigMap")!;
const nsKind = KINDS.find((k) => k.kind === "Namespace")!;

describe("pagination", () => {
  const c = useCluster();

  it("lists 20,000 objects correctly in pages", async () => {
    await c.client.resource(nsKind).create(Namespace.fromPartial({ metadata: { name: "many" } }));
    const cms = c.client.resource<ConfigMap>(cmKind as never);
    const total = 20_000;
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < total; i = next++) {
        await cms.create(
          ConfigMap.fromPartial({
            metadata: {
              name: `cm-${String(i).padStart(5, "0")}`,
              namespace: "many",
              labels: { parity: i % 2 ? "odd" : "even" },
            },
            data: { i: String(i) },
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));

    const names: string[] = [];
    let token = "";
    let pages = 0;
    let rv = "";
    do {
      const page = await cms.list({ namespace: "many", limit: 700, continue: token });
      pages++;
      if (rv) expect(page.resourceVersion).toBe(rv);
      rv = page.resourceVersion;
      if (page.continue) expect(page.remainingItemCount).toBe(total - names.length - page.items.length);
      names.push(...page.items.map((o) => o.metadata!.name));
      token = page.continue;
      // Writes between pages must not show up: every page is served at the first page's revision.
      if (pages === 2) {
        await cms.create(ConfigMap.fromPartial({ metadata: { name: "cm-99999-late", namespace: "many" } }));
      }
    } while (token);
    expect(pages).toBe(Math.ceil(total / 700));
    expect(names.length).toBe(total);
    expect(new Set(names).size).toBe(total);
    expect(names).toEqual([...names].sort());

    const odd = await cms.listAll({ namespace: "many", labelSelector: "parity=odd", limit: 1000 });
    expect(odd.items.length).toBe(total / 2);
    expect(odd.items.every((o) => o.metadata!.labels.parity === "odd")).toBe(true);

    const cached = await cms.list({ namespace: "many", resourceVersion: "0" });
    expect(cached.items.length).toBe(total + 1);
  });
});
