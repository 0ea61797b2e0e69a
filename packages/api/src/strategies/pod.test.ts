import { describe, expect, it } from "vitest";
import type { Pod } from "../gen/tskube/v1/core.js";
import { KINDS } from "../kinds.js";
import { admit, update } from "./testing.js";

// The Pod from the Kubernetes docs ("Pods" concept page).
const NGINX_POD = `
apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  containers:
  - name: nginx
    image: nginx:1.14.2
    ports:
    - containerPort: 80
`;

/** The docs' pod with `patch` spliced into its container (indented as a container field). */
const podWith = (container: string, spec = "") =>
  `${NGINX_POD}${container
    .split("\n")
    .map((l) => (l ? `    ${l}` : l))
    .join("\n")}\n${spec
    .split("\n")
    .map((l) => (l ? `  ${l}` : l))
    .join("\n")}`;

describe("pod defaults", () => {
  it("fills in what Kubernetes fills in", () => {
    const { obj, errors } = admit<Pod>(NGINX_POD);
    expect(errors).toEqual([]);
    const spec = obj.spec!;
    expect(spec.restartPolicy).toBe("Always");
    expect(spec.terminationGracePeriodSeconds).toBe(30);
    expect(spec.dnsPolicy).toBe("ClusterFirst");
    expect(spec.schedulerName).toBe("default-scheduler");
    expect(spec.enableServiceLinks).toBe(true);
    expect(spec.securityContext).toBeDefined();
    const c = spec.containers[0]!;
    expect(c.imagePullPolicy).toBe("IfNotPresent");
    expect(c.terminationMessagePath).toBe("/dev/termination-log");
    expect(c.terminationMessagePolicy).toBe("File");
    expect(c.ports[0]!.protocol).toBe("TCP");
  });

  it("pulls latest and untagged images always, pinned ones if not present", () => {
    const policy = (image: string) =>
      admit<Pod>(NGINX_POD.replace("nginx:1.14.2", image)).obj.spec!.containers[0]!.imagePullPolicy;
    expect(policy("nginx")).toBe("Always");
    expect(policy("nginx:latest")).toBe("Always");
    expect(policy("localhost:5000/nginx")).toBe("Always");
    expect(policy("localhost:5000/nginx:1.27")).toBe("IfNotPresent");
    expect(policy("nginx@sha256:0123456789abcdef")).toBe("IfNotPresent");
  });

  it("defaults probes, their HTTP scheme and path, and requests from limits", () => {
    const { obj, errors } = admit<Pod>(
      podWith(`livenessProbe:
  httpGet:
    port: 80
readinessProbe:
  tcpSocket:
    port: 80
  periodSeconds: 5
resources:
  limits:
    cpu: 500m
    memory: 128Mi
  requests:
    memory: 64Mi`),
    );
    expect(errors).toEqual([]);
    const c = obj.spec!.containers[0]!;
    expect(c.livenessProbe).toMatchObject({
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
      httpGet: { path: "/", scheme: "HTTP", port: "80" },
    });
    expect(c.readinessProbe?.periodSeconds).toBe(5);
    expect(c.resources?.requests).toEqual({ cpu: "500m", memory: "64Mi" });
  });

  it("is idempotent", () => {
    const { obj } = admit<Pod>(NGINX_POD);
    const again = structuredClone(obj);
    KINDS.find((k) => k.kind === "Pod")!.strategy.applyDefaults(again);
    expect(again).toEqual(obj);
  });
});

describe("pod validation", () => {
  const errorsOf = (yaml: string) => admit<Pod>(yaml).errors;

  it("requires names and images, and unique DNS-1123 container names", () => {
    expect(errorsOf(NGINX_POD.replace("name: nginx\n    image", "name: Nginx_1\n    image"))).toEqual([
      `spec.containers[0].name: Invalid value: "Nginx_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
    ]);
    expect(errorsOf(NGINX_POD.replace("image: nginx:1.14.2", 'image: ""'))).toEqual([
      "spec.containers[0].image: Required value",
    ]);
    expect(
      errorsOf(`${NGINX_POD}  - name: nginx
    image: busybox`),
    ).toEqual(['spec.containers[1].name: Duplicate value: "nginx"']);
    expect(errorsOf(NGINX_POD.replace(/ {2}containers:[\s\S]*$/, "  containers: []\n"))).toEqual([
      "spec.containers: Required value",
    ]);
  });

  it("checks ports: range, protocol and unique names", () => {
    expect(errorsOf(NGINX_POD.replace("containerPort: 80", "containerPort: 70000"))).toEqual([
      "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
    ]);
    expect(
      errorsOf(NGINX_POD.replace("containerPort: 80", "containerPort: 80\n      protocol: HTTP")),
    ).toEqual([
      'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
    ]);
    expect(
      errorsOf(
        NGINX_POD.replace(
          "- containerPort: 80",
          "- containerPort: 80\n      name: web\n    - containerPort: 81\n      name: web",
        ),
      ),
    ).toEqual(['spec.containers[0].ports[1].name: Duplicate value: "web"']);
  });

  it("rejects unknown policies with Kubernetes' supported values", () => {
    expect(errorsOf(`${NGINX_POD}  restartPolicy: Sometimes\n`)).toEqual([
      'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    ]);
    expect(errorsOf(`${NGINX_POD}  dnsPolicy: Google\n`)).toEqual([
      'spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"',
    ]);
    expect(errorsOf(podWith("imagePullPolicy: Sometimes"))).toEqual([
      'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"',
    ]);
  });

  it("parses resources and keeps requests within limits", () => {
    expect(
      errorsOf(
        podWith(`resources:
  limits:
    cpu: 500m
  requests:
    cpu: "1"`),
      ),
    ).toEqual([
      'spec.containers[0].resources.requests[cpu]: Invalid value: "1": must be less than or equal to cpu limit of 500m',
    ]);
    expect(
      errorsOf(
        podWith(`resources:
  limits:
    memory: 12 cores
    cpus: "1"`),
      ),
    ).toEqual([
      `spec.containers[0].resources.limits[memory]: Invalid value: "12 cores": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
      'spec.containers[0].resources.limits[cpus]: Invalid value: "cpus": must be a standard resource for containers',
      // Requests default to the limits, so the same problems show there too.
      `spec.containers[0].resources.requests[memory]: Invalid value: "12 cores": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
      'spec.containers[0].resources.requests[cpus]: Invalid value: "cpus": must be a standard resource for containers',
    ]);
    expect(errorsOf(podWith('resources:\n  limits:\n    nvidia.com/gpu: "1"'))).toEqual([]);
  });

  it("needs exactly one volume source, unique volume names and mounts of known volumes", () => {
    const volumes = (v: string, mounts = "") => errorsOf(podWith(mounts, `volumes:\n${v}`));
    expect(
      volumes("- name: cache\n  emptyDir: {}", "volumeMounts:\n- name: cache\n  mountPath: /cache"),
    ).toEqual([]);
    expect(volumes("- name: cache")).toEqual(["spec.volumes[0]: Required value: must specify a volume type"]);
    expect(volumes("- name: cache\n  emptyDir: {}\n  hostPath:\n    path: /tmp")).toEqual([
      "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
    ]);
    expect(volumes("- name: cache\n  emptyDir: {}\n- name: cache\n  emptyDir: {}")).toEqual([
      'spec.volumes[1].name: Duplicate value: "cache"',
    ]);
    const missing = volumes(
      "- name: cache\n  emptyDir: {}",
      "volumeMounts:\n- name: data\n  mountPath: /data",
    );
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatch(/^spec\.containers\[0\]\.volumeMounts\[0\]\.name: Not found/);
  });

  it("needs one handler per probe, non-negative timings and one success for liveness", () => {
    expect(errorsOf(podWith("livenessProbe:\n  periodSeconds: 5"))).toEqual([
      "spec.containers[0].livenessProbe: Required value: must specify a handler type",
    ]);
    expect(
      errorsOf(podWith("readinessProbe:\n  exec:\n    command: [sh]\n  tcpSocket:\n    port: 80")),
    ).toEqual([
      "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
    ]);
    expect(
      errorsOf(
        podWith("livenessProbe:\n  tcpSocket:\n    port: 80\n  periodSeconds: -1\n  successThreshold: 2"),
      ),
    ).toEqual([
      "spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0",
      "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
    ]);
    expect(errorsOf(podWith("readinessProbe:\n  httpGet:\n    port: HTTP_PORT"))[0]).toBe(
      'spec.containers[0].readinessProbe.httpGet.port: Invalid value: "HTTP_PORT": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
    );
  });

  it("checks toleration and node affinity operators", () => {
    expect(errorsOf(`${NGINX_POD}  tolerations:\n  - key: dedicated\n    operator: Maybe\n`)).toEqual([
      'spec.tolerations[0].operator: Unsupported value: "Maybe": supported values: "Equal", "Exists"',
    ]);
    expect(errorsOf(`${NGINX_POD}  tolerations:\n  - operator: Equal\n    value: x\n`)).toEqual([
      'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"',
    ]);
    expect(errorsOf(`${NGINX_POD}  tolerations:\n  - key: k\n    operator: Exists\n    value: v\n`)).toEqual([
      "spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
    ]);
    const affinity = (expr: string) =>
      errorsOf(`${NGINX_POD}  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - ${expr}
`);
    const path =
      "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]";
    expect(affinity("{key: disktype, operator: In, values: [ssd]}")).toEqual([]);
    expect(affinity("{key: disktype, operator: Like, values: [ssd]}")).toEqual([
      `${path}.operator: Unsupported value: "Like": supported values: "DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn"`,
    ]);
    expect(affinity("{key: disktype, operator: In}")).toEqual([
      `${path}.values: Required value: must be specified when \`operator\` is 'In' or 'NotIn'`,
    ]);
  });
});

describe("pod metadata", () => {
  it("requires a DNS-1123 name or generateName and a namespace", () => {
    expect(admit(NGINX_POD.replace("name: nginx\nspec", "name: Nginx\nspec")).errors[0]).toMatch(
      /^metadata\.name: Invalid value: "Nginx": a lowercase RFC 1123 subdomain/,
    );
    const noName = admit(NGINX_POD.replace("  name: nginx\nspec", "  generateName: nginx-\nspec"));
    expect(noName.errors).toEqual(["metadata.name: Required value: name or generateName is required"]);
    expect(admit(NGINX_POD.replace("  name: nginx\nspec", "  generateName: Nginx-\nspec")).errors[0]).toMatch(
      /^metadata\.generateName: Invalid value: "Nginx-": a lowercase RFC 1123 subdomain/,
    );
  });

  it("checks label keys and values, annotation size and owner references", () => {
    const meta = (extra: string) =>
      admit(NGINX_POD.replace("  name: nginx\n", `  name: nginx\n${extra}`)).errors;
    expect(meta('  labels:\n    "bad key!": x\n')[0]).toMatch(
      /^metadata\.labels: Invalid value: "bad key!": name part must/,
    );
    expect(meta("  labels:\n    app: -web\n")[0]).toMatch(
      /^metadata\.labels: Invalid value: "-web": a valid label/,
    );
    expect(meta(`  annotations:\n    big: "${"x".repeat(256 * 1024)}"\n`)).toEqual([
      "metadata.annotations: Too long: must have at most 262144 bytes",
    ]);
    expect(
      meta(`  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: a, uid: "1", controller: true}
  - {apiVersion: apps/v1, kind: ReplicaSet, name: b, uid: "", controller: true}
`),
    ).toEqual([
      'metadata.ownerReferences[1].uid: Invalid value: "": uid must not be empty',
      'metadata.ownerReferences: Invalid value: [2 owner references]: Only one reference can have Controller set to true. Found "true" in references for ReplicaSet/a and ReplicaSet/b',
    ]);
    expect(meta("  finalizers: [example]\n")).toEqual([
      'metadata.finalizers[0]: Invalid value: "example": name is neither a standard finalizer name nor is it fully qualified',
    ]);
  });
});

describe("pod updates", () => {
  const { obj: pod } = admit<Pod>(NGINX_POD);
  const FORBIDDEN =
    "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

  it("allows image changes, deadlines, added tolerations and binding", () => {
    expect(update(pod, (p) => (p.spec!.containers[0]!.image = "nginx:1.27"))).toEqual([]);
    expect(update(pod, (p) => (p.spec!.activeDeadlineSeconds = 60))).toEqual([]);
    expect(
      update(pod, (p) =>
        p.spec!.tolerations.push({
          $type: "tskube.v1.Toleration",
          key: "k",
          operator: "Exists",
          value: "",
          effect: "",
          tolerationSeconds: undefined,
        }),
      ),
    ).toEqual([]);
    expect(update(pod, (p) => (p.spec!.nodeName = "node-1"))).toEqual([]);
  });

  it("forbids any other spec change, re-binding and lengthened deadlines", () => {
    expect(update(pod, (p) => (p.spec!.containers[0]!.ports[0]!.containerPort = 8080))).toEqual([FORBIDDEN]);
    expect(update(pod, (p) => (p.spec!.restartPolicy = "Never"))).toEqual([FORBIDDEN]);
    const bound = structuredClone(pod);
    bound.spec!.nodeName = "node-1";
    bound.spec!.activeDeadlineSeconds = 60;
    expect(update(bound, (p) => (p.spec!.nodeName = "node-2"))).toEqual([
      'spec.nodeName: Invalid value: "node-2": field is immutable once the pod is bound',
    ]);
    expect(update(bound, (p) => (p.spec!.activeDeadlineSeconds = 120))).toEqual([
      "spec.activeDeadlineSeconds: Invalid value: 120: must be less than or equal to previous value",
    ]);
    expect(update(pod, (p) => (p.metadata!.name = "other"))).toEqual([
      'metadata.name: Invalid value: "other": field is immutable',
    ]);
  });

  it("does not take reordered map keys for a change", () => {
    const selective = structuredClone(pod);
    selective.spec!.nodeSelector = { disktype: "ssd", zone: "a" };
    expect(update(selective, (p) => (p.spec!.nodeSelector = { zone: "a", disktype: "ssd" }))).toEqual([]);
    expect(update(selective, (p) => (p.spec!.nodeSelector = { zone: "b", disktype: "ssd" }))).toEqual([
      FORBIDDEN,
    ]);
  });

  it("forbids removing or changing tolerations", () => {
    const tolerant = structuredClone(pod);
    tolerant.spec!.tolerations.push({
      $type: "tskube.v1.Toleration",
      key: "k",
      operator: "Equal",
      value: "v",
      effect: "NoSchedule",
      tolerationSeconds: undefined,
    });
    expect(update(tolerant, (p) => (p.spec!.tolerations = []))).toEqual([
      "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds",
    ]);
  });

  it("validates status writes", () => {
    const s = KINDS.find((k) => k.kind === "Pod")!.strategy;
    const next = structuredClone(pod);
    next.status = {
      ...(next.status ?? {}),
      $type: "tskube.v1.PodStatus",
      phase: "Done",
      podIp: "10.0.0.300",
    } as never;
    expect(s.validateStatusUpdate(next, pod).map(String)).toEqual([
      'status.phase: Unsupported value: "Done": supported values: "Pending", "Running", "Succeeded", "Failed", "Unknown"',
      'status.podIP: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    ]);
  });

  it("names every selectable field, even on an empty pod", () => {
    const s = KINDS.find((k) => k.kind === "Pod")!.strategy;
    const empty = KINDS.find((k) => k.kind === "Pod")!.messageType.create() as Pod;
    expect(Object.keys(s.selectableFields(empty))).toEqual(
      expect.arrayContaining([
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "status.phase",
        "status.podIP",
      ]),
    );
    const bound = structuredClone(pod);
    bound.spec!.nodeName = "node-1";
    expect(s.selectableFields(bound)["spec.nodeName"]).toBe("node-1");
  });
});
