import { ConfigMap, KINDS } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { decodeValue, encodeValue, keyFor, prefixFor } from "./keys.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;

describe("storage keys", () => {
  it("lays keys out as Kubernetes does", () => {
    expect(keyFor(kind("Pod"), "default", "web")).toBe("/registry/pods/default/web");
    expect(keyFor(kind("Node"), "", "node-1")).toBe("/registry/nodes/node-1");
    expect(prefixFor(kind("Pod"), "default")).toBe("/registry/pods/default/");
    expect(prefixFor(kind("Pod"))).toBe("/registry/pods/");
    expect(prefixFor(kind("Namespace"), "ignored")).toBe("/registry/namespaces/");
  });

  it("stores objects without resourceVersion and restores it from the revision", () => {
    const cm = ConfigMap.fromPartial({
      metadata: { name: "a", namespace: "x", resourceVersion: "41" },
      data: { k: "v" },
    });
    const value = encodeValue(kind("ConfigMap"), cm);
    expect(cm.metadata!.resourceVersion).toBe("41");
    const back = decodeValue<ConfigMap>(kind("ConfigMap"), { key: "k", value, modRevision: 97 });
    expect(back.metadata!.resourceVersion).toBe("97");
    expect(back.data).toEqual({ k: "v" });
    const again = encodeValue(kind("ConfigMap"), back);
    expect(again.equals(value)).toBe(true);
  });
});
