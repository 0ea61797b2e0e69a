import { describe, expect, it } from "vitest";
import type { ConfigMap, Namespace, Node, Secret, Service } from "../gen/tskube/v1/core.js";
import { KINDS, type KubeObject } from "../kinds.js";
import { admit, update } from "./testing.js";

// The Service from the Kubernetes docs ("Service" concept page).
const MY_SERVICE = `
apiVersion: v1
kind: Service
metadata:
  name: my-service
spec:
  selector:
    app.kubernetes.io/name: MyApp
  ports:
    - protocol: TCP
      port: 80
      targetPort: 9376
`;

const strategyOf = (kind: string) => KINDS.find((k) => k.kind === kind)!.strategy;

describe("every kind", () => {
  it("has a strategy whose selectable fields survive an empty object", () => {
    for (const kind of KINDS) {
      const s = kind.strategy;
      const empty = kind.messageType.create() as KubeObject;
      expect(() => s.selectableFields(empty), kind.kind).not.toThrow();
      expect(() => s.applyDefaults(kind.messageType.create() as KubeObject), kind.kind).not.toThrow();
      expect(s.validate(kind.messageType.create() as KubeObject).map(String), kind.kind).toContain(
        "metadata: Required value",
      );
    }
  });

  it("lists the field selectors Kubernetes supports per kind", () => {
    const fields = (kind: string) =>
      Object.keys(
        strategyOf(kind).selectableFields(
          KINDS.find((k) => k.kind === kind)!.messageType.create() as KubeObject,
        ),
      );
    expect(fields("Event")).toEqual(
      expect.arrayContaining([
        "involvedObject.kind",
        "involvedObject.name",
        "involvedObject.namespace",
        "involvedObject.uid",
        "reason",
        "type",
        "source",
      ]),
    );
    expect(fields("Node")).toEqual(["spec.unschedulable"]);
    expect(fields("Namespace")).toEqual(["status.phase"]);
    expect(fields("Secret")).toEqual(["type"]);
    expect(fields("Service")).toEqual(["spec.clusterIP", "spec.type"]);
  });
});

describe("services", () => {
  it("defaults type, affinity, protocol and families", () => {
    const { obj, errors } = admit<Service>(
      MY_SERVICE.replace(
        "    - protocol: TCP\n      port: 80\n      targetPort: 9376",
        "    - port: 80\n  clusterIP: 10.96.0.10",
      ),
    );
    expect(errors).toEqual([]);
    const spec = obj.spec!;
    expect(spec.type).toBe("ClusterIP");
    expect(spec.sessionAffinity).toBe("None");
    expect(spec.internalTrafficPolicy).toBe("Cluster");
    expect(spec.ports[0]).toMatchObject({ protocol: "TCP", port: 80, targetPort: "80" });
    expect(spec.clusterIps).toEqual(["10.96.0.10"]);
    expect(spec.ipFamilies).toEqual(["IPv4"]);
    expect(spec.ipFamilyPolicy).toBe("SingleStack");
  });

  it("admits the docs' service and keeps its target port", () => {
    const { obj, errors } = admit<Service>(MY_SERVICE);
    expect(errors).toEqual([]);
    expect(obj.spec?.ports[0]?.targetPort).toBe("9376");
    const nodePort = admit<Service>(MY_SERVICE.replace("spec:\n", "spec:\n  type: NodePort\n"));
    expect(nodePort.errors).toEqual([]);
    expect(nodePort.obj.spec?.externalTrafficPolicy).toBe("Cluster");
  });

  it("names services as DNS-1035 labels", () => {
    expect(admit(MY_SERVICE.replace("name: my-service", "name: 1-service")).errors).toEqual([
      `metadata.name: Invalid value: "1-service": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
    ]);
  });

  it("checks ports, their names, protocols and types", () => {
    expect(admit(MY_SERVICE.replace("port: 80", "port: 0")).errors).toEqual([
      "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
    ]);
    expect(admit(MY_SERVICE.replace("protocol: TCP", "protocol: ICMP")).errors).toEqual([
      'spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
    ]);
    expect(admit(`${MY_SERVICE}    - port: 443\n`).errors).toEqual([
      "spec.ports[0].name: Required value",
      "spec.ports[1].name: Required value",
    ]);
    expect(admit(MY_SERVICE.replace("spec:\n", "spec:\n  type: Magic\n")).errors).toEqual([
      'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    ]);
    expect(
      admit(MY_SERVICE.replace("targetPort: 9376", "targetPort: 9376\n      nodePort: 30007")).errors,
    ).toEqual(["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]);
    expect(admit(MY_SERVICE.replace(/ {2}ports:[\s\S]*$/, "  ports: []\n")).errors).toEqual([
      "spec.ports: Required value",
    ]);
  });

  it("needs an external name for ExternalName services", () => {
    const external = `apiVersion: v1
kind: Service
metadata:
  name: my-database
spec:
  type: ExternalName
`;
    expect(admit(external).errors).toEqual(["spec.externalName: Required value"]);
    expect(admit(`${external}  externalName: my.database.example.com\n`).errors).toEqual([]);
  });

  it("keeps the cluster IP once assigned", () => {
    const { obj } = admit<Service>(MY_SERVICE.replace("spec:\n", "spec:\n  clusterIP: 10.96.0.10\n"));
    expect(update(obj, (s) => (s.spec!.ports[0]!.port = 8080))).toEqual([]);
    expect(
      update(obj, (s) => {
        s.spec!.clusterIp = "10.96.0.11";
        s.spec!.clusterIps = ["10.96.0.11"];
      }),
    ).toEqual(['spec.clusterIP: Invalid value: "10.96.0.11": field is immutable']);
  });
});

describe("namespaces and nodes", () => {
  it("gives namespaces the kubernetes finalizer and their name label", () => {
    const { obj, errors } = admit<Namespace>("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dev\n");
    expect(errors).toEqual([]);
    expect(obj.spec?.finalizers).toEqual(["kubernetes"]);
    expect(obj.metadata?.labels).toEqual({ "kubernetes.io/metadata.name": "dev" });
    expect(admit("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dev.team\n").errors[0]).toMatch(
      /^metadata\.name: Invalid value: "dev\.team": a lowercase RFC 1123 label/,
    );
    expect(
      admit("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dev\n  namespace: default\n").errors,
    ).toEqual(["metadata.namespace: Forbidden: not allowed on this type"]);
    const next = structuredClone(obj);
    next.status = { $type: "tskube.v1.NamespaceStatus", phase: "Gone", conditions: [] };
    expect(strategyOf("Namespace").validateStatusUpdate(next, obj).map(String)).toEqual([
      'status.phase: Unsupported value: "Gone": supported values: "Active", "Terminating"',
    ]);
  });

  it("checks node taints and keeps the pod CIDR once set", () => {
    const node = `apiVersion: v1
kind: Node
metadata:
  name: node-1
spec:
  podCIDR: 10.244.1.0/24
  taints:
  - {key: dedicated, value: web, effect: NoSchedule}
`;
    const { obj, errors } = admit<Node>(node);
    expect(errors).toEqual([]);
    expect(admit(node.replace("effect: NoSchedule", "effect: Sometimes")).errors).toEqual([
      'spec.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
    ]);
    expect(admit(`${node}  - {key: dedicated, value: db, effect: NoSchedule}\n`).errors).toEqual([
      'spec.taints[1]: Duplicate value: "dedicated:NoSchedule": taints must be unique by key and effect pair',
    ]);
    expect(admit(node.replace("10.244.1.0/24", "10.244.1.0")).errors).toEqual([
      'spec.podCIDR: Invalid value: "10.244.1.0": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
    ]);
    expect(update(obj, (n) => (n.spec!.unschedulable = true))).toEqual([]);
    expect(update(obj, (n) => (n.spec!.podCidr = "10.244.2.0/24"))).toEqual([
      'spec.podCIDR: Forbidden: node updates may not change podCIDR except from "" to valid',
    ]);
    expect(strategyOf("Node").selectableFields(obj)).toEqual({ "spec.unschedulable": "false" });
  });
});

describe("config maps and secrets", () => {
  it("checks keys and the 1 MiB budget", () => {
    const cm = (data: string) =>
      admit<ConfigMap>(`apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n${data}`);
    expect(cm("  game.properties: x\n  ui_properties: blue\n").errors).toEqual([]);
    expect(cm('  "bad/key": x\n').errors).toEqual([
      `data[bad/key]: Invalid value: "bad/key": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
    ]);
    expect(cm(`  big: "${"x".repeat(1024 * 1024 + 1)}"\n`).errors).toEqual([
      "data: Too long: must have at most 1048576 bytes",
    ]);
  });

  it("freezes immutable config maps", () => {
    const { obj } = admit<ConfigMap>(
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\nimmutable: true\ndata:\n  a: b\n",
    );
    expect(update(obj, (c) => (c.metadata!.labels = { app: "x" }))).toEqual([]);
    expect(update(obj, (c) => (c.data = { a: "c" }))).toEqual([
      "data: Forbidden: field is immutable when `immutable` is set",
    ]);
    expect(update(obj, (c) => (c.immutable = false))).toEqual([
      "immutable: Forbidden: field is immutable when `immutable` is set",
    ]);
  });

  it("defaults secrets to Opaque, requires keys per type and keeps the type", () => {
    const secret = (type: string, data: string) =>
      admit<Secret>(`apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n${type}data:\n${data}`);
    const opaque = secret("", "  password: czNjcjN0\n");
    expect(opaque.errors).toEqual([]);
    expect(opaque.obj.type).toBe("Opaque");
    expect(secret("type: kubernetes.io/tls\n", "  tls.crt: eA==\n").errors).toEqual([
      "data[tls.key]: Required value",
    ]);
    expect(update(opaque.obj, (s) => (s.type = "kubernetes.io/tls"))).toEqual([
      "data[tls.crt]: Required value",
      "data[tls.key]: Required value",
      'type: Invalid value: "kubernetes.io/tls": field is immutable',
    ]);
  });
});

describe("events, endpoints and leases", () => {
  const event = (ns: string, involvedNs: string) => `apiVersion: v1
kind: Event
metadata:
  name: nginx.1
  namespace: ${ns}
involvedObject:
  kind: Pod
  name: nginx
  namespace: ${involvedNs}
reason: Scheduled
message: Successfully assigned default/nginx to node-1
`;

  it("defaults count and type, and keeps events beside their object", () => {
    const { obj, errors } = admit<KubeObject & { count: number; type: string }>(event("default", "default"));
    expect(errors).toEqual([]);
    expect(obj.count).toBe(1);
    expect(obj.type).toBe("Normal");
    expect(admit(event("kube-system", "default")).errors).toEqual([
      'involvedObject.namespace: Invalid value: "default": does not match event.namespace',
    ]);
    // Events about cluster-scoped objects (nodes) live in "default".
    expect(admit(event("default", '""')).errors).toEqual([]);
    expect(admit(event("default", "default").replace("reason:", "type: Fatal\nreason:")).errors).toEqual([
      'type: Unsupported value: "Fatal": supported values: "Normal", "Warning"',
    ]);
  });

  it("checks endpoint addresses and ports", () => {
    const ep = (ip: string, port: number) => `apiVersion: v1
kind: Endpoints
metadata:
  name: my-service
subsets:
- addresses:
  - ip: ${ip}
  ports:
  - port: ${port}
`;
    expect(admit(ep("10.244.1.5", 9376)).errors).toEqual([]);
    expect(admit(ep("10.244.1.500", 0)).errors).toEqual([
      'subsets[0].addresses[0].ip: Invalid value: "10.244.1.500": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
      "subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
    ]);
  });

  it("needs a positive lease duration", () => {
    const lease = (d: number) =>
      `apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: kube-scheduler\n  namespace: kube-system\nspec:\n  holderIdentity: a\n  leaseDurationSeconds: ${d}\n`;
    expect(admit(lease(15)).errors).toEqual([]);
    expect(admit(lease(0)).errors).toEqual([
      "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
    ]);
  });
});
