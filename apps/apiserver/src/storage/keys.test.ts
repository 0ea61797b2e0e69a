import { ConfigMap, KINDS, type KubeObject, Pod, pack, unpack } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { decodeValue, encodeValue, keyFor, packStored, prefixFor } from "./keys.js";

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

  it("packs a stored value with its resourceVersion exactly as packing the decoded object does", () => {
    const pod = Pod.fromPartial({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "web",
        namespace: "default",
        uid: "u-1",
        labels: { app: "web" },
        finalizers: ["a"],
        // Longer than 127 bytes, so metadata's length takes two varint bytes before and after.
        annotations: { note: "x".repeat(300) },
      },
      spec: { containers: [{ name: "c", image: "nginx" }], nodeName: "n1" },
    });
    for (const revision of [1, 127, 128, 99_999_999_999]) {
      const packed = packStored(kind("Pod"), encodeValue(kind("Pod"), pod), revision);
      const expected = {
        ...pod,
        metadata: { ...pod.metadata!, resourceVersion: String(revision) },
      } as KubeObject;
      expect(packed.typeUrl).toBe(pack(expected).typeUrl);
      expect(unpack(packed)).toEqual(unpack(pack(expected)));
    }
  });

  it("finds metadata in every kind", () => {
    for (const k of KINDS) {
      const obj = k.messageType.fromPartial({ metadata: { name: "n", labels: { a: "b" } } }) as KubeObject;
      const back = unpack(packStored(k, encodeValue(k, obj), 42));
      expect(back.metadata, k.kind).toEqual({ ...obj.metadata, resourceVersion: "42" });
      expect(back.$type).toBe(obj.$type);
    }
  });
});
