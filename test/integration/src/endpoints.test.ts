import { performance } from "node:perf_hooks";
import { Deployment, type Endpoints, KINDS, type Pod, Service } from "@tskube/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import {
  type ComponentHandle,
  freePort,
  startComponent,
  startControllerManager,
  waitFor,
} from "./harness.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;

/**
 * The endpoints controller with real etcd, apiserver, scheduler, a hollow kubelet (pods get an IP
 * and turn Ready without containers) and the controller-manager.
 */
describe("Endpoints controller", () => {
  const c = useCluster();
  const procs: ComponentHandle[] = [];
  const endpoints = () => c.client.resource<Endpoints>(kind("Endpoints") as never);
  const services = () => c.client.resource<Service>(kind("Service") as never);
  const pods = () => c.client.resource<Pod>(kind("Pod") as never);
  const ips = async (name: string) => {
    try {
      const ep = await endpoints().get(name, { namespace: "default" });
      return ep.subsets.flatMap((s) => s.addresses.map((a) => a.ip)).sort();
    } catch {
      return undefined;
    }
  };
  const podIps = async (selector: string) =>
    (await pods().list({ namespace: "default", labelSelector: selector })).items
      .filter((p) => p.status?.podIp && !p.metadata?.deletionTimestamp)
      .map((p) => p.status!.podIp)
      .sort();

  beforeAll(async () => {
    const server = c.servers.join(",");
    procs.push(await startComponent("scheduler", ["--server", server, "--leader-elect", "false"]));
    procs.push(
      await startComponent("kubelet", [
        "--server",
        server,
        "--runtime",
        "fake",
        "--node-name",
        "hollow-ep",
        "--pod-cidr",
        "10.80.0.0/16",
        "--fake-start-delay",
        "50ms",
        "--port",
        String(await freePort()),
      ]),
    );
    procs.push(await startControllerManager(c.servers, "cm-ep"));
  });
  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop();
  });

  it("lists the ready pods a Service selects with their resolved ports, and follows pods, selectors and the Service's deletion", async () => {
    for (const [name, replicas] of [
      ["blue", 3],
      ["green", 1],
    ] as const) {
      await c.client.resource<Deployment>(kind("Deployment") as never).create(
        Deployment.fromPartial({
          metadata: { name, namespace: "default" },
          spec: {
            replicas,
            selector: { matchLabels: { app: "web", release: name } },
            template: {
              metadata: { labels: { app: "web", release: name } },
              spec: {
                containers: [{ name: "web", image: "nginx", ports: [{ name: "http", containerPort: 8080 }] }],
              },
            },
          },
        }),
      );
    }
    const svc = await services().create(
      Service.fromPartial({
        metadata: { name: "web", namespace: "default", labels: { tier: "front" } },
        spec: { selector: { release: "blue" }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
      }),
    );
    await waitFor("3 blue pods with IPs", async () => (await podIps("release=blue")).length === 3, 60_000);
    await waitFor("endpoints for blue", async () => {
      const want = await podIps("release=blue");
      return JSON.stringify(await ips("web")) === JSON.stringify(want);
    });
    const ep = await endpoints().get("web", { namespace: "default" });
    expect(ep.metadata!.labels).toEqual({ tier: "front" });
    expect(ep.subsets).toHaveLength(1);
    expect(ep.subsets[0]!.ports).toMatchObject([{ name: "http", port: 8080, protocol: "TCP" }]);
    expect(ep.subsets[0]!.addresses[0]!.targetRef).toMatchObject({ kind: "Pod", namespace: "default" });

    // Deleting a pod takes its address out; the replacement's address comes in.
    const victim = (await pods().list({ namespace: "default", labelSelector: "release=blue" })).items[0]!;
    await pods().delete(victim.metadata!.name, { namespace: "default", gracePeriodSeconds: 0 });
    await waitFor(
      "victim gone from endpoints",
      async () => !(await ips("web"))?.includes(victim.status!.podIp),
    );
    await waitFor("replacement in endpoints", async () => (await ips("web"))?.length === 3, 60_000);

    // The blue/green switch: changing the selector moves every address at once.
    const started = performance.now();
    await services().patch("web", { spec: { selector: { release: "green" } } }, { namespace: "default" });
    await waitFor("endpoints for green", async () => {
      const want = await podIps("release=green");
      return want.length === 1 && JSON.stringify(await ips("web")) === JSON.stringify(want);
    });
    console.log(`selector change → endpoints updated in ${(performance.now() - started).toFixed(0)} ms`);

    await services().delete(svc.metadata!.name, { namespace: "default" });
    await waitFor("endpoints deleted with the service", async () => (await ips("web")) === undefined);
  });
});
