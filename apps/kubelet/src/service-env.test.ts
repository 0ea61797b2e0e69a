import { Pod, Service } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { fromServices, mergeServiceEnv, serviceEnvFor } from "./service-env.js";

const svc = (ns: string, name: string, spec: Record<string, unknown>) =>
  Service.fromPartial({ metadata: { name, namespace: ns }, spec });
const pod = (ns: string, spec: Record<string, unknown> = {}) =>
  Pod.fromPartial({ metadata: { name: "p", namespace: ns }, spec });
const asMap = (env: { name: string; value: string }[]) =>
  Object.fromEntries(env.map((e) => [e.name, e.value]));

describe("service environment variables (Kubernetes' envvars.FromServices)", () => {
  it("gives _SERVICE_HOST, _SERVICE_PORT(_NAME) and the Docker link variables", () => {
    const env = fromServices([
      svc("default", "web-app", {
        clusterIp: "10.96.0.20",
        ports: [
          { name: "http", port: 80, protocol: "TCP" },
          { name: "metrics-port", port: 9090, protocol: "UDP" },
        ],
      }),
    ]);
    expect(env).toEqual([
      { name: "WEB_APP_SERVICE_HOST", value: "10.96.0.20" },
      { name: "WEB_APP_SERVICE_PORT", value: "80" },
      { name: "WEB_APP_SERVICE_PORT_HTTP", value: "80" },
      { name: "WEB_APP_SERVICE_PORT_METRICS_PORT", value: "9090" },
      { name: "WEB_APP_PORT", value: "tcp://10.96.0.20:80" },
      { name: "WEB_APP_PORT_80_TCP", value: "tcp://10.96.0.20:80" },
      { name: "WEB_APP_PORT_80_TCP_PROTO", value: "tcp" },
      { name: "WEB_APP_PORT_80_TCP_PORT", value: "80" },
      { name: "WEB_APP_PORT_80_TCP_ADDR", value: "10.96.0.20" },
      { name: "WEB_APP_PORT_9090_UDP", value: "udp://10.96.0.20:9090" },
      { name: "WEB_APP_PORT_9090_UDP_PROTO", value: "udp" },
      { name: "WEB_APP_PORT_9090_UDP_PORT", value: "9090" },
      { name: "WEB_APP_PORT_9090_UDP_ADDR", value: "10.96.0.20" },
    ]);
  });

  it("brackets IPv6 ClusterIPs in URLs and skips headless, ExternalName and unallocated Services", () => {
    const env = asMap(
      fromServices([
        svc("default", "v6", { clusterIp: "fd00::10", ports: [{ port: 443 }] }),
        svc("default", "headless", { clusterIp: "None", ports: [{ port: 1 }] }),
        svc("default", "ext", { type: "ExternalName", externalName: "example.com" }),
        svc("default", "pending", { ports: [{ port: 2 }] }),
      ]),
    );
    expect(env.V6_PORT).toBe("tcp://[fd00::10]:443");
    expect(Object.keys(env).filter((k) => !k.startsWith("V6_"))).toEqual([]);
  });

  it("takes the pod's namespace, the default kubernetes Service always, nothing else", () => {
    const services = [
      svc("default", "kubernetes", { clusterIp: "10.96.0.1", ports: [{ name: "https", port: 443 }] }),
      svc("default", "webapp", { clusterIp: "10.96.0.20", ports: [{ port: 80 }] }),
      svc("team", "api", { clusterIp: "10.96.0.30", ports: [{ port: 8080 }] }),
    ];
    const team = asMap(serviceEnvFor(pod("team"), services));
    expect(team.API_SERVICE_HOST).toBe("10.96.0.30");
    expect(team.KUBERNETES_SERVICE_HOST).toBe("10.96.0.1");
    expect(team.WEBAPP_SERVICE_HOST).toBeUndefined();
    const noLinks = asMap(serviceEnvFor(pod("team", { enableServiceLinks: false }), services));
    expect(Object.keys(noLinks).some((k) => k.startsWith("API_"))).toBe(false);
    expect(noLinks.KUBERNETES_SERVICE_PORT).toBe("443");
    const dflt = asMap(serviceEnvFor(pod("default"), services));
    expect(dflt.WEBAPP_SERVICE_PORT).toBe("80");
  });

  it("lets a namespace's own kubernetes Service win over the default one", () => {
    const env = asMap(
      serviceEnvFor(pod("team"), [
        svc("default", "kubernetes", { clusterIp: "10.96.0.1", ports: [{ port: 443 }] }),
        svc("team", "kubernetes", { clusterIp: "10.96.0.50", ports: [{ port: 443 }] }),
      ]),
    );
    expect(env.KUBERNETES_SERVICE_HOST).toBe("10.96.0.50");
  });

  it("keeps the container's own variables over service variables of the same name", () => {
    expect(
      mergeServiceEnv(
        [{ name: "WEBAPP_SERVICE_HOST", value: "mine" }],
        [
          { name: "WEBAPP_SERVICE_HOST", value: "10.96.0.20" },
          { name: "WEBAPP_SERVICE_PORT", value: "80" },
        ],
      ),
    ).toEqual([
      { name: "WEBAPP_SERVICE_HOST", value: "mine" },
      { name: "WEBAPP_SERVICE_PORT", value: "80" },
    ]);
  });
});
