import { Pod, Service } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { pickPod, translatePodPorts, translateServicePorts } from "./port-forward.js";

const pod = (
  name: string,
  o: { phase?: string; node?: string; readySince?: string; restarts?: number; created?: string } = {},
) =>
  Pod.fromPartial({
    metadata: { name, creationTimestamp: o.created ?? "2026-01-01T00:00:00Z" },
    spec: {
      nodeName: o.node ?? "node-1",
      containers: [
        {
          name: "c",
          ports: [
            { name: "http", containerPort: 8080 },
            { name: "admin", containerPort: 9000 },
          ],
        },
      ],
    },
    status: {
      phase: o.phase ?? "Running",
      conditions: o.readySince ? [{ type: "Ready", status: "True", lastTransitionTime: o.readySince }] : [],
      containerStatuses: [{ name: "c", restartCount: o.restarts ?? 0 }],
    },
  });

const svc = (spec: Record<string, unknown> = {}) =>
  Service.fromPartial({
    metadata: { name: "web" },
    spec: {
      clusterIp: "10.96.0.10",
      ports: [
        { name: "http", port: 80, targetPort: "http" },
        { name: "metrics", port: 9090, targetPort: "9100" },
      ],
      ...spec,
    },
  });

describe("port-forward svc/NAME", () => {
  it("forwards a service port to the target port, a named one resolved against the pod's containers", () => {
    expect(translateServicePorts(["8080:80", "9090"], svc(), pod("a"))).toEqual(["8080", "9090:9100"]);
    expect(translateServicePorts(["5000:80"], svc(), pod("a"))).toEqual(["5000:8080"]);
    // A REMOTE given by service port name; with no LOCAL, the local port is the service port.
    expect(translateServicePorts(["http", "7000:metrics"], svc(), pod("a"))).toEqual([
      "80:8080",
      "7000:9100",
    ]);
    expect(translateServicePorts(["0:80"], svc(), pod("a"))).toEqual(["0:8080"]);
  });

  it("uses the port as given for a headless Service and says which port is missing", () => {
    expect(translateServicePorts(["80"], svc({ clusterIp: "None" }), pod("a"))).toEqual(["80"]);
    expect(() => translateServicePorts(["81"], svc(), pod("a"))).toThrow(
      "Service web does not have a service port 81",
    );
    expect(() => translateServicePorts(["grpc"], svc(), pod("a"))).toThrow(
      "Service 'web' does not have a named port 'grpc'",
    );
    const unnamed = svc({ ports: [{ port: 80, targetPort: "web" }] });
    expect(() => translateServicePorts(["80"], unnamed, pod("a"))).toThrow(
      "Pod 'a' does not have a named port 'web'",
    );
  });

  it("resolves a pod's named container port", () => {
    expect(translatePodPorts(["http", "5000:admin", "1234:80"], pod("a"))).toEqual([
      "8080",
      "5000:9000",
      "1234:80",
    ]);
  });

  it("picks the most active pod: scheduled, Running, ready longest, fewest restarts, oldest", () => {
    const pick = (...pods: Pod[]) => pickPod(pods)?.metadata?.name;
    expect(pick(pod("pending", { phase: "Pending" }), pod("running"))).toBe("running");
    expect(pick(pod("unscheduled", { node: "" }), pod("pending", { phase: "Pending" }))).toBe("pending");
    expect(pick(pod("not-ready"), pod("ready", { readySince: "2026-01-01T00:05:00Z" }))).toBe("ready");
    expect(
      pick(
        pod("recent", { readySince: "2026-01-01T00:05:00Z" }),
        pod("long", { readySince: "2026-01-01T00:01:00Z" }),
      ),
    ).toBe("long");
    expect(pick(pod("flaky", { restarts: 3 }), pod("steady"))).toBe("steady");
    expect(pick(pod("young", { created: "2026-01-02T00:00:00Z" }), pod("old"))).toBe("old");
    expect(pickPod([])).toBeUndefined();
  });
});
