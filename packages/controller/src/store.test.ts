import { Node, Pod } from "@tskube/api";
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

  it("adds, updates and lists keys; cluster-scoped objects are keyed by name alone", () => {
    const s = new Store<Pod>();
    s.add(pod("a", "p1", "n1", "web"));
    s.update(pod("a", "p1", "n2", "web"));
    expect(s.size).toBe(1);
    expect(s.get("a/p1")?.spec?.nodeName).toBe("n2");
    const nodes = new Store<Node>();
    nodes.add(Node.fromPartial({ metadata: { name: "n1" } }));
    expect(nodes.listKeys()).toEqual(["n1"]);
    expect(nodes.getByName("", "n1")?.metadata?.name).toBe("n1");
    expect(s.delete("a/missing")).toBeUndefined();
  });

  it("indexes objects already cached when an indexer is added late, including multi-valued ones", () => {
    const s = new Store<Pod>();
    s.add(pod("a", "p1", "n1", "web"));
    s.add(pod("a", "p2", "n2", "db"));
    s.addIndexer("labelValues", (p) => Object.values(p.metadata?.labels ?? {}).concat("any"));
    expect(s.byIndex("labelValues", "web").map((p) => p.metadata!.name)).toEqual(["p1"]);
    expect(s.byIndex("labelValues", "any").length).toBe(2);
    s.add(pod("a", "p3", "n1", "web"));
    expect(s.byIndex("labelValues", "web").length).toBe(2);
    expect(s.byIndex("unknown-index", "x")).toEqual([]);
  });

  it("lists by namespace and selector together through the Lister", () => {
    const s = new Store<Pod>();
    s.add(pod("a", "p1", "n1", "web"));
    s.add(pod("a", "p2", "n1", "db"));
    s.add(pod("b", "p3", "n1", "web"));
    const lister = new Lister(s);
    expect(lister.list("a", "app in (web,db)").length).toBe(2);
    expect(lister.list("a", "app!=db").map((p) => p.metadata!.name)).toEqual(["p1"]);
    expect(lister.list("c")).toEqual([]);
    expect(lister.list().length).toBe(3);
  });

  it("refuses an indexer under a name already taken, keeping the first one", () => {
    const byNode = (p: Pod) => [p.spec?.nodeName ?? ""];
    const s = new Store<Pod>({ node: byNode });
    s.add(pod("a", "p1", "n1", "web"));
    expect(() => s.addIndexer("node", (p) => [p.metadata?.name ?? ""])).toThrow(
      'indexer conflict: an indexer named "node" already exists',
    );
    expect(() => s.addIndexer(NAMESPACE_INDEX, () => [])).toThrow(/"namespace" already exists/);
    expect(s.byIndex("node", "n1").map((p) => p.metadata!.name)).toEqual(["p1"]);
    expect(s.byIndex("node", "p1")).toEqual([]);
    expect(s.byIndex(NAMESPACE_INDEX, "a").length).toBe(1);
  });
});
