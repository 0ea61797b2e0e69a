import { type Event, Service } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { fakeContext, settle, stored } from "../testing.js";
import { parseIpPool } from "./ip-pool.js";
import { LOAD_BALANCER_CLEANUP_FINALIZER, ServiceLBController } from "./service-lb-controller.js";

const lb = (name: string, spec: Record<string, unknown> = {}) =>
  Service.fromPartial({
    metadata: { name, namespace: "default" },
    spec: {
      type: "LoadBalancer",
      clusterIp: "10.96.0.10",
      selector: { app: name },
      ports: [{ port: 80, targetPort: "8080", protocol: "TCP", nodePort: 30080 }],
      ...spec,
    },
  });

describe("--load-balancer-ip-pool", () => {
  it("reads a CIDR without its network and broadcast addresses, and an inclusive range", () => {
    const cidr = parseIpPool("192.168.240.0/29")!;
    expect([cidr.size, cidr.at(0), cidr.at(cidr.size - 1)]).toEqual([6, "192.168.240.1", "192.168.240.6"]);
    expect([
      cidr.contains("192.168.240.0"),
      cidr.contains("192.168.240.6"),
      cidr.contains("10.0.0.1"),
    ]).toEqual([false, true, false]);
    const range = parseIpPool("10.0.0.250-10.0.1.2")!;
    expect([range.size, range.at(5), range.contains("10.0.0.255")]).toEqual([9, "10.0.0.255", true]);
    expect(parseIpPool("172.18.255.200/32")!.at(0)).toBe("172.18.255.200");
    expect(parseIpPool("")).toBeUndefined();
  });

  it("names the flag and the value it rejects", () => {
    expect(() => parseIpPool("10.0.0.0/33")).toThrow(
      '--load-balancer-ip-pool: Invalid value: "10.0.0.0/33": must be an IPv4 CIDR such as 192.168.240.0/28 or a range A-B',
    );
    expect(() => parseIpPool("10.0.0.5/24")).toThrow("must be the network address of the CIDR (10.0.0.0)");
    expect(() => parseIpPool("10.0.0.9-10.0.0.1")).toThrow("the range's end must not be before its start");
    expect(() => parseIpPool("fd00::/120")).toThrow('Invalid value: "fd00::/120"');
  });
});

describe("ServiceLBController", () => {
  async function setup(pool = "192.168.240.0/30") {
    const f = fakeContext();
    const c = new ServiceLBController(f.ctx, { pool: parseIpPool(pool) });
    const svcs = f.client.resource<Service>("Service");
    const add = async (s: Service) => {
      const created = await svcs.create(s);
      c.services.store.upsert(created);
      return created;
    };
    /** The stored Service, also put into the informer's cache as its watch would. */
    const refresh = async (name: string) => {
      const s = await svcs.get(name, { namespace: "default" });
      c.services.store.upsert(s);
      return s;
    };
    const reasons = async () => {
      await settle();
      return (await stored<Event>(f.client, "Event")).map((e) => `${e.involvedObject?.name}:${e.reason}`);
    };
    return { ...f, c, svcs, add, refresh, reasons };
  }
  const ip = (s: Service) => s.status?.loadBalancer?.ingress.map((i) => i.ip) ?? [];

  it("gives each LoadBalancer Service its own address behind the cleanup finalizer, with Kubernetes' events", async () => {
    const { c, add, refresh, reasons } = await setup();
    await add(lb("a"));
    await add(lb("b"));
    await add(Service.fromPartial({ ...lb("plain"), spec: { ...lb("plain").spec!, type: "ClusterIP" } }));
    // Both syncs run before the cache shows either write: the second must not get the first's address.
    await c.sync("default/a");
    await c.sync("default/b");
    await c.sync("default/plain");
    const a = await refresh("a");
    const b = await refresh("b");
    expect(ip(a)).toEqual(["192.168.240.1"]);
    expect(ip(b)).toEqual(["192.168.240.2"]);
    expect(a.metadata!.finalizers).toEqual([LOAD_BALANCER_CLEANUP_FINALIZER]);
    expect(ip(await refresh("plain"))).toEqual([]);
    expect((await refresh("plain")).metadata!.finalizers).toEqual([]);
    expect(await reasons()).toEqual([
      "a:EnsuringLoadBalancer",
      "a:EnsuredLoadBalancer",
      "b:EnsuringLoadBalancer",
      "b:EnsuredLoadBalancer",
    ]);
    // A sync with nothing to change writes nothing.
    const rv = a.metadata!.resourceVersion;
    await c.sync("default/a");
    expect((await refresh("a")).metadata!.resourceVersion).toBe(rv);
  });

  it("honours spec.loadBalancerIP when it is in the pool and free, and says why when it is not", async () => {
    const { c, add, refresh, reasons } = await setup("192.168.240.0/29");
    await add(lb("wanted", { loadBalancerIp: "192.168.240.5" }));
    await c.sync("default/wanted");
    expect(ip(await refresh("wanted"))).toEqual(["192.168.240.5"]);
    await add(lb("outside", { loadBalancerIp: "10.1.2.3" }));
    await expect(c.sync("default/outside")).rejects.toThrow(
      "failed to ensure load balancer: requested IP 10.1.2.3 is not in the load balancer IP pool 192.168.240.0/29",
    );
    await add(lb("clash", { loadBalancerIp: "192.168.240.5" }));
    await expect(c.sync("default/clash")).rejects.toThrow("requested IP 192.168.240.5 is already allocated");
    expect(ip(await refresh("clash"))).toEqual([]);
    expect(await reasons()).toContain("clash:SyncLoadBalancerFailed");
  });

  it("leaves a Service pending with SyncLoadBalancerFailed when the pool is used up, and hands it the address another gives back", async () => {
    const { c, add, refresh, reasons, client, svcs } = await setup("192.168.240.0/31");
    await add(lb("a"));
    await add(lb("b"));
    await add(lb("c"));
    await c.sync("default/a");
    await c.sync("default/b");
    await expect(c.sync("default/c")).rejects.toThrow(
      "failed to ensure load balancer: no addresses left in the load balancer IP pool 192.168.240.0/31",
    );
    expect(ip(await refresh("c"))).toEqual([]);
    await settle();
    const failed = (await stored<Event>(client, "Event")).find((e) => e.reason === "SyncLoadBalancerFailed");
    expect(failed).toMatchObject({
      type: "Warning",
      message:
        "Error syncing load balancer: failed to ensure load balancer: no addresses left in the load balancer IP pool 192.168.240.0/31",
    });
    // a is deleted: the apiserver marks it (finalizer) and the controller releases its address.
    const a = await refresh("a");
    const deleting = await svcs.update({
      ...a,
      metadata: { ...a.metadata!, deletionTimestamp: "2026-01-01T00:00:00Z" },
    });
    c.services.store.upsert(deleting);
    await c.sync("default/a");
    const released = await refresh("a");
    expect(released.metadata!.finalizers).toEqual([]);
    expect(await reasons()).toEqual(
      expect.arrayContaining(["a:DeletingLoadBalancer", "a:DeletedLoadBalancer"]),
    );
    // The fake apiserver keeps the object; the real one removes it with its last finalizer.
    await svcs.delete("a", { namespace: "default" });
    c.services.store.delete("default/a");
    await c.sync("default/a");
    await c.sync("default/c");
    expect(ip(await refresh("c"))).toEqual(["192.168.240.0"]);
  });

  it("frees the address and the finalizer when the Service stops being a LoadBalancer", async () => {
    const { c, add, refresh, svcs, reasons } = await setup();
    await add(lb("a"));
    await c.sync("default/a");
    const a = await refresh("a");
    const changed = await svcs.update({ ...a, spec: { ...a.spec!, type: "NodePort" } });
    c.services.store.upsert(changed);
    await c.sync("default/a");
    const after = await refresh("a");
    expect(ip(after)).toEqual([]);
    expect(after.metadata!.finalizers).toEqual([]);
    expect(await reasons()).toEqual(
      expect.arrayContaining(["a:DeletingLoadBalancer", "a:DeletedLoadBalancer"]),
    );
    await add(lb("b"));
    await c.sync("default/b");
    expect(ip(await refresh("b"))).toEqual(["192.168.240.1"]);
  });

  it("moves a Service to the spec.loadBalancerIP it is given later, freeing the old address", async () => {
    const { c, add, refresh, svcs } = await setup();
    await add(lb("a"));
    await c.sync("default/a");
    const a = await refresh("a");
    expect(ip(a)).toEqual(["192.168.240.1"]);
    c.services.store.upsert(
      await svcs.update({ ...a, spec: { ...a.spec!, loadBalancerIp: "192.168.240.2" } }),
    );
    await c.sync("default/a");
    expect(ip(await refresh("a"))).toEqual(["192.168.240.2"]);
    await add(lb("b"));
    await c.sync("default/b");
    expect(ip(await refresh("b"))).toEqual(["192.168.240.1"]);
  });

  it("keeps an address it finds in the status after a restart and never gives it out twice", async () => {
    const { c, add, refresh } = await setup();
    const holder = lb("holder");
    holder.metadata!.finalizers = [LOAD_BALANCER_CLEANUP_FINALIZER];
    holder.status = {
      $type: "tskube.v1.ServiceStatus",
      conditions: [],
      loadBalancer: {
        $type: "tskube.v1.LoadBalancerStatus",
        ingress: [{ $type: "tskube.v1.LoadBalancerIngress", ip: "192.168.240.1", hostname: "" }],
      },
    };
    await add(holder);
    await add(lb("new"));
    await c.sync("default/new");
    await c.sync("default/holder");
    expect(ip(await refresh("holder"))).toEqual(["192.168.240.1"]);
    expect(ip(await refresh("new"))).toEqual(["192.168.240.2"]);
  });

  it("does nothing without a pool, as Kubernetes without a cloud provider", async () => {
    const f = fakeContext();
    const c = new ServiceLBController(f.ctx, { pool: undefined });
    const created = await f.client.resource<Service>("Service").create(lb("a"));
    c.services.store.upsert(created);
    await c.run(new AbortController().signal);
    expect(await stored<Event>(f.client, "Event")).toEqual([]);
    expect(
      (await f.client.resource<Service>("Service").get("a", { namespace: "default" })).metadata!
        .resourceVersion,
    ).toBe(created.metadata!.resourceVersion);
  });
});
