import {
  Endpoints,
  Event,
  endpointsKind,
  formatEndpoints,
  KINDS,
  printing,
  Service,
  serviceClusterIp,
  serviceExternalIp,
  serviceKind,
  servicePorts,
} from "@tskube/api";
import { describe, expect, it } from "vitest";
import { printTable } from "./print.js";

const { tabwrite } = printing;
const describeService = (s: Service, e: Endpoints | undefined, events: Event[], now: number) =>
  serviceKind.printer.describe(s, { events, now, get: async () => e as never });
const describeEndpoints = (e: Endpoints, events: Event[], now: number) =>
  endpointsKind.printer.describe(e, { events, now, get: async () => undefined });

const NOW = Date.parse("2026-01-01T12:00:00Z");
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();

const svc = (spec: Record<string, unknown>, status: Record<string, unknown> = {}, name = "web") =>
  Service.fromPartial({
    metadata: { name, namespace: "default", creationTimestamp: ago(300) },
    spec: { type: "ClusterIP", clusterIp: "10.96.0.10", clusterIps: ["10.96.0.10"], ...spec },
    status,
  });
const lbStatus = (...ips: string[]) => ({ loadBalancer: { ingress: ips.map((ip) => ({ ip })) } });
const port = (port: number, o: Record<string, unknown> = {}) => ({
  port,
  protocol: "TCP",
  targetPort: String(port),
  ...o,
});

const ep = (subsets: unknown[]) =>
  Endpoints.fromPartial({ metadata: { name: "web", namespace: "default" }, subsets: subsets as never });
const addrs = (...ips: string[]) => ips.map((ip) => ({ ip }));

describe("get svc", () => {
  it("prints PORT(S) as port/protocol, port:nodePort/protocol, comma-separated", () => {
    expect(servicePorts(svc({ ports: [port(80)] }))).toBe("80/TCP");
    expect(
      servicePorts(
        svc({
          type: "NodePort",
          ports: [port(80, { nodePort: 30080 }), port(53, { protocol: "UDP", nodePort: 30053 })],
        }),
      ),
    ).toBe("80:30080/TCP,53:30053/UDP");
    expect(servicePorts(svc({ ports: [] }))).toBe("<none>");
  });

  it("prints EXTERNAL-IP as kubectl: <none>, <pending>, the load balancer's addresses, the external name", () => {
    expect(serviceExternalIp(svc({}))).toBe("<none>");
    expect(serviceExternalIp(svc({ type: "NodePort", externalIps: ["203.0.113.7"] }))).toBe("203.0.113.7");
    expect(serviceExternalIp(svc({ type: "LoadBalancer" }))).toBe("<pending>");
    expect(serviceExternalIp(svc({ type: "LoadBalancer" }, lbStatus("192.168.240.1")))).toBe("192.168.240.1");
    expect(
      serviceExternalIp(
        svc({ type: "LoadBalancer", externalIps: ["203.0.113.7"] }, lbStatus("192.168.240.1")),
      ),
    ).toBe("192.168.240.1,203.0.113.7");
    // Sorted as strings, and clipped to 16 characters unless -o wide.
    const two = svc({ type: "LoadBalancer" }, lbStatus("192.168.240.2", "192.168.240.10"));
    expect(serviceExternalIp(two)).toBe("192.168.240.1...");
    expect(serviceExternalIp(two, true)).toBe("192.168.240.10,192.168.240.2");
    expect(
      serviceExternalIp(
        svc({ type: "ExternalName", externalName: "db.example.com", clusterIp: "", clusterIps: [] }),
      ),
    ).toBe("db.example.com");
  });

  it("prints CLUSTER-IP from spec.clusterIPs: None for headless, <none> for ExternalName", () => {
    expect(serviceClusterIp(svc({ clusterIp: "None", clusterIps: ["None"] }))).toBe("None");
    expect(serviceClusterIp(svc({ type: "ExternalName", clusterIp: "", clusterIps: [] }))).toBe("<none>");
  });

  it("lays out the table with kubectl's columns, and SELECTOR with -o wide", () => {
    const kind = KINDS.find((k) => k.kind === "Service")!;
    const objects = [
      svc({ ports: [port(80)], selector: { tier: "fe", app: "web" } }),
      svc(
        {
          type: "LoadBalancer",
          clusterIp: "10.96.0.11",
          clusterIps: ["10.96.0.11"],
          ports: [port(80, { nodePort: 30080 })],
        },
        {},
        "lb",
      ),
      svc({ type: "ExternalName", externalName: "db.example.com", clusterIp: "", clusterIps: [] }, {}, "db"),
    ];
    const o = {
      output: "" as const,
      showLabels: false,
      allNamespaces: false,
      showKind: false,
      noHeaders: false,
      now: NOW,
    };
    expect(printTable(kind, objects, o)).toBe(
      [
        "NAME   TYPE           CLUSTER-IP   EXTERNAL-IP      PORT(S)        AGE",
        "web    ClusterIP      10.96.0.10   <none>           80/TCP         5m",
        "lb     LoadBalancer   10.96.0.11   <pending>        80:30080/TCP   5m",
        "db     ExternalName   <none>       db.example.com   <none>         5m",
        "",
      ].join("\n"),
    );
    expect(printTable(kind, objects.slice(0, 1), { ...o, output: "wide" })).toBe(
      [
        "NAME   TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE   SELECTOR",
        "web    ClusterIP   10.96.0.10   <none>        80/TCP    5m    app=web,tier=fe",
        "",
      ].join("\n"),
    );
  });
});

describe("get endpoints", () => {
  it("lists ready addresses per port, three at most, then + N more...", () => {
    expect(formatEndpoints(ep([]))).toBe("<none>");
    expect(formatEndpoints(ep([{ addresses: addrs("10.1.0.1", "10.1.0.2"), ports: [{ port: 8080 }] }]))).toBe(
      "10.1.0.1:8080,10.1.0.2:8080",
    );
    expect(
      formatEndpoints(
        ep([{ addresses: addrs("10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"), ports: [{ port: 8080 }] }]),
      ),
    ).toBe("10.1.0.1:8080,10.1.0.2:8080,10.1.0.3:8080 + 1 more...");
    // Ports first, then addresses, as kubectl walks them.
    expect(
      formatEndpoints(
        ep([
          {
            addresses: addrs("10.1.0.1", "10.1.0.2"),
            ports: [
              { name: "http", port: 80 },
              { name: "https", port: 443 },
            ],
          },
        ]),
      ),
    ).toBe("10.1.0.1:80,10.1.0.2:80,10.1.0.1:443 + 1 more...");
  });

  it("prints nothing when no address is ready, bare IPs without ports, IPv6 in brackets", () => {
    expect(formatEndpoints(ep([{ notReadyAddresses: addrs("10.1.0.1"), ports: [{ port: 80 }] }]))).toBe("");
    expect(formatEndpoints(ep([{ addresses: addrs("10.1.0.1", "10.1.0.2") }]))).toBe("10.1.0.1,10.1.0.2");
    expect(formatEndpoints(ep([{ addresses: addrs("fd00::1"), ports: [{ port: 8080 }] }]))).toBe(
      "[fd00::1]:8080",
    );
  });
});

describe("tabwriter", () => {
  it("aligns a column over consecutive lines that have a cell in it, padding 2", () => {
    expect(tabwrite("a:\t1\nlonger:\tx\ty\nno tabs\nb:\t2\n")).toBe(
      "a:       1\nlonger:  x  y\nno tabs\nb:  2\n",
    );
  });
});

describe("describe svc", () => {
  it("prints a LoadBalancer Service as kubectl's describer, endpoints per port", async () => {
    const s = svc(
      {
        type: "LoadBalancer",
        selector: { app: "web" },
        ipFamilyPolicy: "SingleStack",
        ipFamilies: ["IPv4"],
        ports: [
          port(80, { name: "http", targetPort: "http", nodePort: 30080 }),
          port(9090, { name: "metrics", nodePort: 30090 }),
        ],
        sessionAffinity: "None",
        externalTrafficPolicy: "Cluster",
        internalTrafficPolicy: "Cluster",
      },
      lbStatus("192.168.240.1"),
    );
    s.metadata!.labels = { app: "web" };
    const e = ep([
      {
        addresses: addrs("10.1.0.1", "10.1.0.2"),
        ports: [
          { name: "http", port: 8080, protocol: "TCP" },
          { name: "metrics", port: 9090, protocol: "TCP" },
        ],
      },
    ]);
    expect(await describeService(s, e, [], NOW)).toBe(
      [
        "Name:                     web",
        "Namespace:                default",
        "Labels:                   app=web",
        "Annotations:              <none>",
        "Selector:                 app=web",
        "Type:                     LoadBalancer",
        "IP Family Policy:         SingleStack",
        "IP Families:              IPv4",
        "IP:                       10.96.0.10",
        "IPs:                      10.96.0.10",
        "LoadBalancer Ingress:     192.168.240.1",
        "Port:                     http  80/TCP",
        "TargetPort:               http/TCP",
        "NodePort:                 http  30080/TCP",
        "Endpoints:                10.1.0.1:8080,10.1.0.2:8080",
        "Port:                     metrics  9090/TCP",
        "TargetPort:               9090/TCP",
        "NodePort:                 metrics  30090/TCP",
        "Endpoints:                10.1.0.1:9090,10.1.0.2:9090",
        "Session Affinity:         None",
        "External Traffic Policy:  Cluster",
        "Internal Traffic Policy:  Cluster",
        "Events:                   <none>",
        "",
      ].join("\n"),
    );
  });

  it("prints an ExternalName Service with multi-line labels, and its events in their own table", async () => {
    const s = svc(
      {
        type: "ExternalName",
        externalName: "db.example.com",
        clusterIp: "",
        clusterIps: [],
        sessionAffinity: "None",
      },
      {},
      "db",
    );
    s.metadata!.labels = { tier: "db", app: "x" };
    s.metadata!.annotations = { "kubectl.kubernetes.io/last-applied-configuration": "{}", note: "x" };
    const event = (
      reason: string,
      type: string,
      message: string,
      first: number,
      last: number,
      count: number,
    ) =>
      Event.fromPartial({
        reason,
        type,
        message,
        count,
        firstTimestamp: ago(first),
        lastTimestamp: ago(last),
        source: { component: "service-controller" },
      });
    const events = [
      event(
        "SyncLoadBalancerFailed",
        "Warning",
        "Error syncing load balancer: no addresses left",
        120,
        10,
        3,
      ),
      event("EnsuringLoadBalancer", "Normal", "Ensuring load balancer", 30, 30, 1),
    ];
    expect(await describeService(s, undefined, events, NOW)).toBe(
      [
        "Name:              db",
        "Namespace:         default",
        "Labels:            app=x",
        "                   tier=db",
        "Annotations:       note=x",
        "Selector:          <none>",
        "Type:              ExternalName",
        "IP Families:       <none>",
        "IP:                ",
        "IPs:               <none>",
        "External Name:     db.example.com",
        "Session Affinity:  None",
        "Events:",
        "  Type     Reason                  Age               From                Message",
        "  ----     ------                  ----              ----                -------",
        "  Normal   EnsuringLoadBalancer    30s               service-controller  Ensuring load balancer",
        "  Warning  SyncLoadBalancerFailed  10s (x3 over 2m)  service-controller  Error syncing load balancer: no addresses left",
        "",
      ].join("\n"),
    );
  });

  it("prints <none> for a Service without Endpoints and nothing while none is ready", async () => {
    const s = svc({ ports: [port(80)], sessionAffinity: "None" });
    expect(await describeService(s, undefined, [], NOW)).toContain("Endpoints:         <none>\n");
    expect(await describeService(s, ep([]), [], NOW)).toContain("Endpoints:         \n");
  });
});

describe("describe endpoints", () => {
  it("prints each subset's ready and not-ready addresses and its ports", async () => {
    const e = ep([
      {
        addresses: addrs("10.1.0.1", "10.1.0.2"),
        notReadyAddresses: addrs("10.1.0.3"),
        ports: [
          { name: "http", port: 8080, protocol: "TCP" },
          { name: "", port: 53, protocol: "UDP" },
        ],
      },
    ]);
    expect(await describeEndpoints(e, [], NOW)).toBe(
      [
        "Name:         web",
        "Namespace:    default",
        "Labels:       <none>",
        "Annotations:  <none>",
        "Subsets:",
        "  Addresses:          10.1.0.1,10.1.0.2",
        "  NotReadyAddresses:  10.1.0.3",
        "  Ports:",
        "    Name     Port  Protocol",
        "    ----     ----  --------",
        "    http     8080  TCP",
        "    <unset>  53    UDP",
        "",
        "Events:  <none>",
        "",
      ].join("\n"),
    );
  });
});
