import { type Event, KINDS, Service } from "@tskube/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import { type ComponentHandle, ktl, startControllerManager, waitFor } from "./harness.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;
const FINALIZER = "service.kubernetes.io/load-balancer-cleanup";

/** The service-lb-controller with real etcd, apiserver and a controller-manager given a two-address pool. */
describe("LoadBalancer Services", () => {
  const c = useCluster();
  const procs: ComponentHandle[] = [];
  const services = () => c.client.resource<Service>(kind("Service") as never);
  const externalIp = async (name: string) =>
    (await services().get(name, { namespace: "default" })).status?.loadBalancer?.ingress[0]?.ip ?? "";
  const reasons = async (name: string) =>
    (await c.client.resource<Event>(kind("Event") as never).list({ namespace: "default" })).items
      .filter((e) => e.involvedObject?.name === name)
      .map((e) => e.reason);
  const create = (name: string, type = "LoadBalancer") =>
    services().create(
      Service.fromPartial({
        metadata: { name, namespace: "default" },
        spec: { type, selector: { app: name }, ports: [{ port: 80, targetPort: "8080" }] },
      }),
    );

  beforeAll(async () => {
    procs.push(
      await startControllerManager(c.servers, "cm-lb", [
        "--controllers",
        "service-lb-controller",
        "--load-balancer-ip-pool",
        "172.30.255.0/30",
      ]),
    );
  });
  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop();
  });

  it("hands out the pool's addresses, keeps a Service pending when it is used up, and passes on an address its Service gives back", async () => {
    await create("web-a");
    await waitFor("web-a's address", async () => (await externalIp("web-a")) !== "");
    await create("web-b");
    await waitFor("web-b's address", async () => (await externalIp("web-b")) !== "");
    expect([await externalIp("web-a"), await externalIp("web-b")].sort()).toEqual([
      "172.30.255.1",
      "172.30.255.2",
    ]);
    expect((await services().get("web-a", { namespace: "default" })).metadata!.finalizers).toEqual([
      FINALIZER,
    ]);
    expect(await reasons("web-a")).toEqual(
      expect.arrayContaining(["EnsuringLoadBalancer", "EnsuredLoadBalancer"]),
    );
    const described = await ktl(c.servers.join(","), ["describe", "svc", "web-a"]);
    expect(described.stdout).toContain(`LoadBalancer Ingress:     ${await externalIp("web-a")}\n`);
    expect(described.stdout).toMatch(/^NodePort:\s+<unset> {2}3\d{4}\/TCP$/m);
    expect(described.stdout).toMatch(
      /^ {2}Normal +EnsuredLoadBalancer +\S+ +service-controller +Ensured load balancer$/m,
    );

    await create("web-c");
    await waitFor("web-c's SyncLoadBalancerFailed", async () =>
      (await reasons("web-c")).includes("SyncLoadBalancerFailed"),
    );
    expect(await externalIp("web-c")).toBe("");
    const get = await ktl(c.servers.join(","), ["get", "svc", "web-c", "web-a"]);
    expect(get.stdout).toMatch(/^web-c\s+LoadBalancer\s+10\.\S+\s+<pending>\s+80:3\d{4}\/TCP\s+\S+$/m);
    expect(get.stdout).toMatch(
      /^web-a\s+LoadBalancer\s+10\.\S+\s+172\.30\.255\.[12]\s+80:3\d{4}\/TCP\s+\S+$/m,
    );

    const freed = await externalIp("web-a");
    await services().delete("web-a", { namespace: "default" });
    // The finalizer holds the Service until the controller has released its address.
    await waitFor("web-a to leave storage", async () => {
      try {
        await services().get("web-a", { namespace: "default" });
        return false;
      } catch {
        return true;
      }
    });
    await waitFor("web-c to get the freed address", async () => (await externalIp("web-c")) === freed);
  });

  it("releases the address and the finalizer when a Service changes type, for the next LoadBalancer", async () => {
    // web-b and web-c hold the pool's two addresses after the test above.
    await create("api");
    await waitFor("api's SyncLoadBalancerFailed", async () =>
      (await reasons("api")).includes("SyncLoadBalancerFailed"),
    );
    const held = await externalIp("web-b");
    const b = await services().get("web-b", { namespace: "default" });
    // Kubernetes' apiserver drops these LoadBalancer-only fields on a type change; this one wants them cleared.
    await services().update({
      ...b,
      spec: {
        ...b.spec!,
        type: "ClusterIP",
        externalTrafficPolicy: "",
        allocateLoadBalancerNodePorts: undefined,
      },
    });
    await waitFor("web-b to give its address back", async () => {
      const now = await services().get("web-b", { namespace: "default" });
      return !now.status?.loadBalancer?.ingress.length && now.metadata!.finalizers.length === 0;
    });
    expect(await reasons("web-b")).toEqual(
      expect.arrayContaining(["DeletingLoadBalancer", "DeletedLoadBalancer"]),
    );
    await waitFor("api to get web-b's address", async () => (await externalIp("api")) === held);
  });
});
