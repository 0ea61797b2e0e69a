import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigMap, Deployment, Lease, Pod, Secret, Service } from "../gen/index.js";
import { decodeObject } from "./decode.js";
import { encodeMessage, encodeObject } from "./encode.js";
import { parseManifests, toYaml } from "./yaml.js";

const TESTDATA = join(import.meta.dirname, "testdata");
const fixtures = readdirSync(TESTDATA)
  .filter((f) => f.endsWith(".yaml"))
  .flatMap((f) =>
    parseManifests(readFileSync(join(TESTDATA, f), "utf8"), f).map((doc, i) => ({ name: `${f}#${i}`, doc })),
  );

describe("encodeObject", () => {
  it("has the tutorial manifests to round-trip", () => {
    expect(fixtures.map((f) => (f.doc as { kind: string }).kind).sort()).toEqual([
      "ConfigMap",
      "Deployment",
      "Pod",
      "ReplicaSet",
      "Secret",
      "Secret",
      "Service",
    ]);
  });

  it.each(fixtures)("gives back exactly the manifest $name after decoding it", ({ doc }) => {
    expect(encodeObject(decodeObject(doc).object)).toStrictEqual(doc);
  });

  it.each(fixtures)("prints $name as YAML that reads back to the same object", ({ doc }) => {
    const json = encodeObject(decodeObject(doc).object);
    expect(parseManifests(toYaml(json))).toStrictEqual([json]);
  });

  it("prints a canonical manifest byte for byte", () => {
    const text = [
      "apiVersion: v1",
      "kind: Pod",
      "metadata:",
      "  name: hello",
      "  labels:",
      "    app: hello",
      "spec:",
      "  containers:",
      "  - name: hello",
      "    image: busybox:1.36",
      "    command:",
      "    - echo",
      "    args:",
      "    - Hello, Kubernetes!",
      "    resources:",
      "      limits:",
      '        cpu: "1"',
      "        memory: 128Mi",
      "  restartPolicy: Never",
      "",
    ].join("\n");
    expect(toYaml(encodeObject(decodeObject(parseManifests(text)[0]).object))).toBe(text);
  });

  it("leads with apiVersion and kind from the kind table, then metadata, spec and status", () => {
    const pod = Pod.fromPartial({
      kind: "Wrong",
      status: { phase: "Running" },
      spec: { nodeName: "n1" },
      metadata: { name: "p" },
    });
    expect(Object.keys(encodeObject(pod))).toEqual(["apiVersion", "kind", "metadata", "spec", "status"]);
    expect(encodeObject(pod).kind).toBe("Pod");
    const deployment = encodeObject(Deployment.fromPartial({ metadata: { name: "d" } }));
    expect(deployment).toStrictEqual({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "d" } });
    const secret = Secret.fromPartial({
      type: "Opaque",
      data: { a: new Uint8Array([1]) },
      metadata: { name: "s" },
    });
    expect(Object.keys(encodeObject(secret))).toEqual(["apiVersion", "kind", "metadata", "data", "type"]);
  });

  it("leaves out empty strings, zeros, false, empty lists and maps and absent messages", () => {
    const pod = Pod.fromPartial({
      metadata: { name: "p", labels: {}, finalizers: [] },
      spec: {
        containers: [
          { name: "c", image: "", args: [], stdin: false, ports: [{ containerPort: 80, hostPort: 0 }] },
        ],
        hostNetwork: false,
      },
    });
    expect(encodeObject(pod)).toStrictEqual({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p" },
      spec: { containers: [{ name: "c", ports: [{ containerPort: 80 }] }] },
    });
  });

  it("writes optional fields that are set, even as 0 and false, and present empty messages as {}", () => {
    const d = Deployment.fromPartial({
      metadata: { name: "d" },
      spec: { replicas: 0, paused: false, template: { spec: { automountServiceAccountToken: false } } },
    });
    expect(encodeObject(d).spec).toStrictEqual({
      replicas: 0,
      template: { spec: { automountServiceAccountToken: false } },
    });
    const lease = Lease.fromPartial({ metadata: { name: "l" }, spec: { holderIdentity: "" } });
    expect(encodeObject(lease).spec).toStrictEqual({ holderIdentity: "" });
    const pod = Pod.fromPartial({ spec: { volumes: [{ name: "v", emptyDir: {} }] } });
    expect(encodeObject(pod).spec).toStrictEqual({ volumes: [{ name: "v", emptyDir: {} }] });
  });

  it("writes IntOrString numbers back as numbers and everything else as strings", () => {
    const svc = Service.fromPartial({
      spec: {
        ports: [
          { port: 80, targetPort: "8080" },
          { port: 81, targetPort: "http" },
          { port: 82, targetPort: "0080" },
          { port: 83, targetPort: "99999999999" },
        ],
      },
    });
    expect((encodeObject(svc).spec as { ports: unknown[] }).ports).toStrictEqual([
      { port: 80, targetPort: 8080 },
      { port: 81, targetPort: "http" },
      { port: 82, targetPort: "0080" },
      { port: 83, targetPort: "99999999999" },
    ]);
  });

  it("writes bytes as base64, quantities as strings and map keys sorted", () => {
    const cm = ConfigMap.fromPartial({
      metadata: { name: "c", labels: { z: "1", a: "2" } },
      binaryData: { bin: new Uint8Array([0xde, 0xad, 0xbe, 0xef]) },
    });
    const json = encodeObject(cm);
    expect(json.binaryData).toStrictEqual({ bin: "3q2+7w==" });
    expect(Object.keys((json.metadata as { labels: object }).labels)).toEqual(["a", "z"]);
    expect(
      encodeMessage("tskube.v1.ResourceRequirements", { limits: { cpu: "1" }, requests: {} }),
    ).toStrictEqual({
      limits: { cpu: "1" },
    });
  });
});
