import { ApiError } from "@tskube/machinery";
import { describe, expect, it } from "vitest";
import type { ConfigMap, Deployment, Lease, Pod, Secret, Service } from "../gen/index.js";
import { DecodeError, decodeMessage, decodeObject } from "./decode.js";

function failure(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error("expected an ApiError");
}

const messageOf = (fn: () => unknown) => failure(fn).message;

const deployment = (spec: unknown) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "d" },
  spec,
});

const pod = (spec: unknown, metadata: unknown = { name: "p" }) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata,
  spec,
});

describe("decodeObject", () => {
  it("builds the typed object and its kind", () => {
    const { kind, object } = decodeObject(
      pod(
        { containers: [{ name: "c", image: "nginx", ports: [{ containerPort: 80 }] }] },
        { name: "p", labels: { app: "web" } },
      ),
    );
    expect(kind.kind).toBe("Pod");
    const p = object as Pod;
    expect(p.$type).toBe("tskube.v1.Pod");
    expect(p.metadata?.labels).toEqual({ app: "web" });
    expect(p.spec?.containers[0]?.ports[0]?.containerPort).toBe(80);
    // Fields the manifest leaves out get the generated defaults.
    expect(p.spec?.restartPolicy).toBe("");
    expect(p.spec?.containers[0]?.args).toEqual([]);
  });

  it("rejects unknown kinds and versions", () => {
    expect(messageOf(() => decodeObject({ apiVersion: "v1", kind: "Foo", metadata: { name: "w" } }))).toBe(
      'no matches for kind "Foo" in version "v1"',
    );
    expect(messageOf(() => decodeObject({ apiVersion: "v1", kind: "Deployment" }))).toBe(
      'no matches for kind "Deployment" in version "v1"',
    );
    expect(messageOf(() => decodeObject({ apiVersion: "apps/v2", kind: "Deployment" }))).toBe(
      'no matches for kind "Deployment" in version "apps/v2"',
    );
  });

  it("names the missing kind or apiVersion with the manifest, as Kubernetes does", () => {
    expect(messageOf(() => decodeObject({ apiVersion: "v1", metadata: { name: "w" } }))).toBe(
      `Object 'Kind' is missing in '{"apiVersion":"v1","metadata":{"name":"w"}}'`,
    );
    expect(messageOf(() => decodeObject({ kind: "Pod", metadata: { name: "w" } }))).toBe(
      `Object 'apiVersion' is missing in '{"kind":"Pod","metadata":{"name":"w"}}'`,
    );
    expect(messageOf(() => decodeObject({ apiVersion: "v1", kind: "" }))).toBe(
      `Object 'Kind' is missing in '{"apiVersion":"v1","kind":""}'`,
    );
    expect(messageOf(() => decodeObject({ apiVersion: "v1", kind: 5 }))).toBe(
      "couldn't get version/kind; json parse error: kind: Invalid value: 5: expected string",
    );
    expect(messageOf(() => decodeObject(["a"]))).toBe(
      "couldn't get version/kind; json parse error: expected an object, got a list",
    );
    expect(messageOf(() => decodeObject("text"))).toBe(
      "couldn't get version/kind; json parse error: expected an object, got a string",
    );
  });

  it("lists every unknown field with its full path, strictly", () => {
    const err = failure(() =>
      decodeObject(deployment({ replica: 1, template: { spec: { containers: [{ nme: "c" }] } } })),
    );
    expect(err.message).toBe(
      'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: ' +
        'unknown field "spec.replica", unknown field "spec.template.spec.containers[0].nme"',
    );
    expect(err.reason).toBe("BadRequest");
    expect(err.code).toBe(3);
    expect((err as DecodeError).strictErrors).toEqual([
      'unknown field "spec.replica"',
      'unknown field "spec.template.spec.containers[0].nme"',
    ]);
    // Field names are case-sensitive, as in Kubernetes' strict decoding.
    expect(messageOf(() => decodeObject({ apiVersion: "v1", kind: "Pod", Metadata: {} }))).toBe(
      'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "Metadata"',
    );
  });

  it("reports a wrong JSON type with the full path, list indexes included", () => {
    expect(messageOf(() => decodeObject(deployment({ replicas: "three" })))).toBe(
      'Deployment in version "v1" cannot be handled as a Deployment: spec.replicas: Invalid value: "three": expected integer',
    );
    const err = failure(() =>
      decodeObject(
        deployment({
          template: { spec: { containers: [{ name: "c", ports: [{ containerPort: "80" }] }] } },
        }),
      ),
    );
    expect(err.message).toBe(
      'Deployment in version "v1" cannot be handled as a Deployment: ' +
        'spec.template.spec.containers[0].ports[0].containerPort: Invalid value: "80": expected integer',
    );
    expect(err.causes).toEqual([
      {
        reason: "FieldInvalid",
        field: "spec.template.spec.containers[0].ports[0].containerPort",
        message:
          'spec.template.spec.containers[0].ports[0].containerPort: Invalid value: "80": expected integer',
      },
    ]);
    const cases: [unknown, string][] = [
      [pod({ containers: { name: "c" } }), 'spec.containers: Invalid value: {"name":"c"}: expected list'],
      [pod({ containers: ["c"] }), 'spec.containers[0]: Invalid value: "c": expected object'],
      [pod({ hostNetwork: "true" }), 'spec.hostNetwork: Invalid value: "true": expected boolean'],
      [pod({ nodeName: 5 }), "spec.nodeName: Invalid value: 5: expected string"],
      [pod({ nodeSelector: ["a"] }), 'spec.nodeSelector: Invalid value: ["a"]: expected object'],
      [pod({ priority: 1.5 }), "spec.priority: Invalid value: 1.5: expected integer"],
      [pod("x"), 'spec: Invalid value: "x": expected object'],
    ];
    for (const [manifest, detail] of cases) {
      expect(messageOf(() => decodeObject(manifest))).toBe(
        `Pod in version "v1" cannot be handled as a Pod: ${detail}`,
      );
    }
  });

  it("requires strings where maps hold strings", () => {
    expect(messageOf(() => decodeObject(pod({}, { name: "p", labels: { a: 1 } })))).toBe(
      'Pod in version "v1" cannot be handled as a Pod: metadata.labels[a]: Invalid value: 1: expected string',
    );
    expect(messageOf(() => decodeObject(pod({}, { name: "p", annotations: { a: true } })))).toBe(
      'Pod in version "v1" cannot be handled as a Pod: metadata.annotations[a]: Invalid value: true: expected string',
    );
  });

  it("keeps integers inside their int32 and int64 ranges", () => {
    expect(messageOf(() => decodeObject(deployment({ replicas: 2 ** 31 })))).toBe(
      'Deployment in version "v1" cannot be handled as a Deployment: ' +
        "spec.replicas: Invalid value: 2147483648: must be between -2147483648 and 2147483647, inclusive",
    );
    expect((decodeObject(deployment({ replicas: -(2 ** 31) })).object as Deployment).spec?.replicas).toBe(
      -(2 ** 31),
    );
    expect(messageOf(() => decodeObject(pod({ activeDeadlineSeconds: 2 ** 53 })))).toBe(
      'Pod in version "v1" cannot be handled as a Pod: ' +
        "spec.activeDeadlineSeconds: Invalid value: 9007199254740992: must be between -9007199254740991 and 9007199254740991, inclusive",
    );
    expect(
      (decodeObject(pod({ activeDeadlineSeconds: 2 ** 40 })).object as Pod).spec?.activeDeadlineSeconds,
    ).toBe(2 ** 40);
  });

  it("keeps the presence of optional scalars", () => {
    const zero = decodeObject(deployment({ replicas: 0 })).object as Deployment;
    expect(zero.spec?.replicas).toBe(0);
    const absent = decodeObject(deployment({})).object as Deployment;
    expect(absent.spec?.replicas).toBeUndefined();
    const nulled = decodeObject(deployment({ replicas: null })).object as Deployment;
    expect(nulled.spec?.replicas).toBeUndefined();
    const lease = decodeObject({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "l" },
      spec: { holderIdentity: "", leaseDurationSeconds: 0 },
    }).object as Lease;
    expect(lease.spec?.holderIdentity).toBe("");
    expect(lease.spec?.leaseDurationSeconds).toBe(0);
    expect(lease.spec?.leaseTransitions).toBeUndefined();
  });

  it("accepts a number or a string for IntOrString and stores the string", () => {
    const d = decodeObject(
      deployment({ strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: "25%" } } }),
    ).object as Deployment;
    expect(d.spec?.strategy?.rollingUpdate).toMatchObject({ maxSurge: "1", maxUnavailable: "25%" });
    const svc = decodeObject({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "s" },
      spec: { ports: [{ port: 80, targetPort: "http" }] },
    }).object as Service;
    expect(svc.spec?.ports[0]?.targetPort).toBe("http");
    expect(
      messageOf(() => decodeObject(deployment({ strategy: { rollingUpdate: { maxSurge: 1.5 } } }))),
    ).toBe(
      'Deployment in version "v1" cannot be handled as a Deployment: ' +
        "spec.strategy.rollingUpdate.maxSurge: Invalid value: 1.5: expected integer or string",
    );
    expect(
      messageOf(() => decodeObject(deployment({ strategy: { rollingUpdate: { maxSurge: true } } }))),
    ).toMatch(/maxSurge: Invalid value: true: expected integer or string$/);
  });

  it("accepts a number or a string for quantities, in maps too, and stores the string", () => {
    const p = decodeObject(
      pod({
        containers: [
          { name: "c", resources: { limits: { cpu: 1, memory: "128Mi" }, requests: { cpu: 0.5 } } },
        ],
      }),
    ).object as Pod;
    expect(p.spec?.containers[0]?.resources).toMatchObject({
      limits: { cpu: "1", memory: "128Mi" },
      requests: { cpu: "0.5" },
    });
    expect(
      messageOf(() =>
        decodeObject(pod({ containers: [{ name: "c", resources: { limits: { cpu: [1] } } }] })),
      ),
    ).toBe(
      'Pod in version "v1" cannot be handled as a Pod: ' +
        "spec.containers[0].resources.limits[cpu]: Invalid value: [1]: expected quantity (number or string)",
    );
  });

  it("reads bytes as base64 and keeps Secret.stringData plain", () => {
    const s = decodeObject({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s" },
      data: { password: "czNjcjN0", empty: "", wrapped: "czNj\ncjN0" },
      stringData: { username: "admin" },
    }).object as Secret;
    expect(Buffer.from(s.data.password!).toString()).toBe("s3cr3t");
    expect(s.data.empty).toEqual(new Uint8Array());
    expect(Buffer.from(s.data.wrapped!).toString()).toBe("s3cr3t");
    expect(s.stringData).toEqual({ username: "admin" });
    for (const bad of ["s3cr3t!", "abc", 5]) {
      expect(
        messageOf(() =>
          decodeObject({ apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, data: { p: bad } }),
        ),
      ).toBe(
        `Secret in version "v1" cannot be handled as a Secret: data[p]: Invalid value: ${JSON.stringify(bad)}: expected base64-encoded data`,
      );
    }
    const cm = decodeObject({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c" },
      binaryData: { bin: "3q2+7w==" },
    }).object as ConfigMap;
    expect([...cm.binaryData.bin!]).toEqual([0xde, 0xad, 0xbe, 0xef]);
  });

  it("accepts proto field names too, but not one field twice", () => {
    const p = decodeObject(pod({ node_name: "n1", host_network: true })).object as Pod;
    expect(p.spec?.nodeName).toBe("n1");
    expect(p.spec?.hostNetwork).toBe(true);
    expect(messageOf(() => decodeObject(pod({ nodeName: "a", node_name: "b" })))).toBe(
      'Pod in version "v1" cannot be handled as a Pod: strict decoding error: duplicate field "spec.nodeName"',
    );
  });

  it("treats null as unset, and as the zero value inside lists and maps", () => {
    const p = decodeObject(
      pod(
        { containers: [{ name: "c", args: ["a", null] }], nodeSelector: { disk: null }, volumes: null },
        {
          name: "p",
          labels: null,
        },
      ),
    ).object as Pod;
    expect(p.spec?.containers[0]?.args).toEqual(["a", ""]);
    expect(p.spec?.nodeSelector).toEqual({ disk: "" });
    expect(p.spec?.volumes).toEqual([]);
    expect(p.metadata?.labels).toEqual({});
  });

  it("keeps __proto__ from changing objects: it is an unknown field, or an unsupported map key", () => {
    const manifest = JSON.parse(
      '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"__proto__":{"x":1}}}',
    );
    expect(messageOf(() => decodeObject(manifest))).toBe(
      'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.__proto__"',
    );
    const labels = JSON.parse(
      '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"__proto__":"x"}}}',
    );
    expect(messageOf(() => decodeObject(labels))).toBe(
      'Pod in version "v1" cannot be handled as a Pod: metadata.labels[__proto__]: Invalid value: "__proto__": this key is not supported',
    );
  });
});

describe("decodeMessage", () => {
  it("decodes a partial structure with paths from the given prefix", () => {
    const spec = decodeMessage<{ replicas?: number }>("tskube.v1.DeploymentSpec", { replicas: 2 }, "spec");
    expect(spec.replicas).toBe(2);
    const err = failure(() => decodeMessage("tskube.v1.DeploymentSpec", { replicas: "2" }, "spec"));
    expect(err).toBeInstanceOf(DecodeError);
    expect(err.message).toBe('spec.replicas: Invalid value: "2": expected integer');
    expect(messageOf(() => decodeMessage("tskube.v1.DeploymentSpec", { replicaz: 2 }))).toBe(
      'strict decoding error: unknown field "replicaz"',
    );
    expect(messageOf(() => decodeMessage("tskube.v1.DeploymentSpec", 7))).toBe(
      "<root>: Invalid value: 7: expected object",
    );
  });
});
