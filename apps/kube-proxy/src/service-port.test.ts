import { Endpoints, Service } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { buildServicePorts, DEFAULT_AFFINITY_SECONDS } from "./service-port.js";

const svc = (spec: Record<string, unknown>, name = "web") =>
  Service.fromPartial({
    metadata: { namespace: "default", name },
    spec: { clusterIp: "10.96.0.10", ...spec },
  });

describe("buildServicePorts", () => {
  it("joins service ports with endpoint ports by name, keeping not-ready addresses apart", () => {
    const [http, metrics] = buildServicePorts(
      [
        svc({
          type: "NodePort",
          sessionAffinity: "ClientIP",
          ports: [
            { name: "http", port: 80, protocol: "TCP", nodePort: 30080 },
            { name: "metrics", port: 9090, protocol: "TCP", nodePort: 30090 },
          ],
        }),
      ],
      [
        Endpoints.fromPartial({
          metadata: { namespace: "default", name: "web" },
          subsets: [
            {
              addresses: [{ ip: "10.244.1.3", nodeName: "node-1" }, { ip: "10.244.1.2" }],
              notReadyAddresses: [{ ip: "10.244.1.4" }],
              ports: [
                { name: "http", port: 8080, protocol: "TCP" },
                { name: "metrics", port: 9100, protocol: "TCP" },
              ],
            },
          ],
        }),
      ],
    );
    expect(http).toMatchObject({
      name: "default/web:http",
      clusterIp: "10.96.0.10",
      port: 80,
      nodePort: 30080,
      affinitySeconds: DEFAULT_AFFINITY_SECONDS,
      endpoints: [
        { ip: "10.244.1.2", port: 8080, ready: true },
        { ip: "10.244.1.3", port: 8080, ready: true, nodeName: "node-1" },
        { ip: "10.244.1.4", port: 8080, ready: false },
      ],
    });
    expect(metrics?.name).toBe("default/web:metrics");
    expect(metrics?.endpoints.map((e) => e.port)).toEqual([9100, 9100, 9100]);
  });

  it("skips headless and ExternalName services and ignores nodePort on a ClusterIP service", () => {
    const ports = buildServicePorts(
      [
        svc({ clusterIp: "None", ports: [{ port: 80 }] }, "headless"),
        svc({ type: "ExternalName", externalName: "example.com", clusterIp: "" }, "ext"),
        svc({ type: "ClusterIP", ports: [{ port: 80, nodePort: 30001 }] }, "plain"),
      ],
      [],
    );
    expect(ports.map((p) => [p.name, p.nodePort, p.protocol, p.endpoints.length])).toEqual([
      ["default/plain", 0, "TCP", 0],
    ]);
  });
});
