import { Pod } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { Lister, NAMESPACE_INDEX, Store } from "./store.js";

const pod = (ns: string, name: string, node: string, app: string) =>
  Pod.fromPartial({ metadata: { name, namespace: ns, labels: { app } }, spec: { nodeName: node } });

describe("Store", () => {
  it("keeps indexes current through updates and deletes", () => {
    const s = new Store<Pod>({ node: (p) => [p.spec?.nodeName ?? ""] });
    s.upsert(pod("a", "p1", "n1", "web"));
    s.upsert(pod("a", "p2", "n1", "db"));
    s.upsert(pod("b", "p3", "n2", "web"));
    expect(
      s
        .byIndex("node", "n1")
        .map((p) => p.metadata!.name)
        .sort(),
    ).toEqual(["p1", "p2"]);
    s.upsert(pod("a", "p2", "n2", "db"));
    expect(s.byIndex("node", "n1").map((p) => p.metadata!.name)).toEqual(["p1"]);
    expect(s.byIndex("node", "n2").length).toBe(2);
    s.delete("a/p1");
    expect(s.byIndex("node", "n1")).toEqual([]);
    expect(s.byIndex(NAMESPACE_INDEX, "a").map((p) => p.metadata!.name)).toEqual(["p2"]);
    const lister = new Lister(s);
    expect(lister.list(undefined, "app=web").map((p) => p.metadata!.name)).toEqual(["p3"]);
    expect(lister.get("b", "p3")?.spec?.nodeName).toBe("n2");
  });
});
