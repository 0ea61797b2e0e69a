import { ConfigMap, KINDS, Namespace } from "@tskube/api";
import { isConflict } from "@tskube/machinery";
import { describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";

const cmKind = KINDS.find((k) => k.kind === "ConfigMap")!;
const nsKind = KINDS.find((k) => k.kind === "Namespace")!;

describe("optimistic concurrency", () => {
  const c = useCluster();

  it("rejects an update carrying a stale resourceVersion with a conflict", async () => {
    await c.client.resource(nsKind).create(Namespace.fromPartial({ metadata: { name: "occ" } }));
    const cms = c.client.resource<ConfigMap>(cmKind as never);
    const created = await cms.create(
      ConfigMap.fromPartial({ metadata: { name: "stale", namespace: "occ" }, data: { v: "1" } }),
    );
    const first = await cms.update({ ...created, data: { v: "2" } });
    expect(Number(first.metadata!.resourceVersion)).toBeGreaterThan(
      Number(created.metadata!.resourceVersion),
    );
    const err = await cms.update({ ...created, data: { v: "3" } }).catch((e: unknown) => e);
    expect(isConflict(err)).toBe(true);
    expect(String((err as Error).message)).toBe(
      'Operation cannot be fulfilled on configmaps "stale": the object has been modified; please apply your changes to the latest version and try again',
    );
    const now = await cms.get("stale", { namespace: "occ" });
    expect(now.data).toEqual({ v: "2" });
  });

  it("loses no increment with 10 concurrent read-modify-write clients", async () => {
    const cms = c.client.resource<ConfigMap>(cmKind as never);
    await cms.create(
      ConfigMap.fromPartial({ metadata: { name: "counter", namespace: "occ" }, data: { n: "0" } }),
    );
    const perClient = 20;
    let conflicts = 0;
    const worker = async () => {
      for (let i = 0; i < perClient; i++) {
        for (;;) {
          const cur = await cms.get("counter", { namespace: "occ" });
          const next = { ...cur, data: { n: String(Number(cur.data.n) + 1) } };
          try {
            await cms.update(next);
            break;
          } catch (err) {
            if (!isConflict(err)) throw err;
            conflicts++;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    const final = await cms.get("counter", { namespace: "occ" });
    expect(final.data.n).toBe(String(10 * perClient));
    // The clients really raced: without conflicts the test would prove nothing.
    expect(conflicts).toBeGreaterThan(0);
  });
});
