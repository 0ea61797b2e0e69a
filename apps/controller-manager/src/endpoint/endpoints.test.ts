import { type Endpoints, Pod, Service } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { fakeContext, stored } from "../testing.js";
import { computeSubsets, findPort } from "./endpoints.js";
import { EndpointsController } from "./endpoints-controller.js";

const pod = (
  name: string,
  ip: string,
  o: {
    ready?: boolean;
    phase?: string;
    deleting?: boolean;
    labels?: Record<string, string>;
    hostname?: string;
  } = {},
) =>
  Pod.fromPartial({
    metadata: {
      name,
      namespace: "default",
      uid: `uid-${name}`,
      labels: o.labels ?? { app: "web" },
      deletionTimestamp: o.deleting ? "2026-01-01T00:00:00Z" : "",
    },
    spec: {
      nodeName: "node-1",
      hostname: o.hostname ?? "",
      subdomain: o.hostname ? "web" : "",
      containers: [
        { name: "c", image: "nginx", ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }] },
      ],
    },
    status: {
      podIp: ip,
      phase: o.phase ?? "Running",
      conditions: [{ type: "Ready", status: o.ready === false ? "False" : "True" }],
    },
  });

const service = (spec: Record<string, unknown> = {}) =>
  Service.fromPartial({
    metadata: { name: "web", namespace: "default", labels: { team: "a" } },
    spec: {
      selector: { app: "web" },
      clusterIp: "10.96.0.10",
      ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
      ...spec,
    },
  });

describe("endpoints from pods", () => {
  it("resolves named and numbered target ports per pod", () => {
    const p = pod("a", "10.1.0.1");
    expect(findPort(p, service().spec!.ports[0]!)).toBe(8080);
    expect(findPort(p, { ...service().spec!.ports[0]!, targetPort: "9090" })).toBe(9090);
    expect(findPort(p, { ...service().spec!.ports[0]!, targetPort: "grpc" })).toBeUndefined();
    expect(findPort(p, { ...service().spec!.ports[0]!, protocol: "UDP" })).toBeUndefined();
  });

  it("keeps ready and not-ready apart and leaves out pods without an IP, finished or being deleted", () => {
    const subsets = computeSubsets(service(), [
      pod("b", "10.1.0.2"),
      pod("a", "10.1.0.1"),
      pod("slow", "10.1.0.3", { ready: false }),
      pod("done", "10.1.0.4", { phase: "Succeeded" }),
      pod("going", "10.1.0.5", { deleting: true }),
      pod("new", ""),
    ]);
    expect(subsets).toHaveLength(1);
    expect(subsets[0]!.addresses.map((a) => a.ip)).toEqual(["10.1.0.1", "10.1.0.2"]);
    expect(subsets[0]!.notReadyAddresses.map((a) => a.ip)).toEqual(["10.1.0.3"]);
    expect(subsets[0]!.ports).toMatchObject([{ name: "http", port: 8080, protocol: "TCP" }]);
    expect(subsets[0]!.addresses[0]!.targetRef).toMatchObject({ kind: "Pod", name: "a", uid: "uid-a" });
    expect(subsets[0]!.addresses[0]!.nodeName).toBe("node-1");
  });

  it("publishNotReadyAddresses lists every pod as ready; hostnames are published for the subdomain", () => {
    const subsets = computeSubsets(service({ publishNotReadyAddresses: true }), [
      pod("a", "10.1.0.1", { ready: false, hostname: "a-0" }),
    ]);
    expect(subsets[0]!.addresses.map((a) => [a.ip, a.hostname])).toEqual([["10.1.0.1", "a-0"]]);
  });

  it("groups pods whose named port resolves differently into their own subsets", () => {
    const other = pod("b", "10.1.0.2");
    other.spec!.containers[0]!.ports[0]!.containerPort = 9000;
    const subsets = computeSubsets(service(), [pod("a", "10.1.0.1"), other]);
    expect(subsets.map((s) => [s.addresses.map((a) => a.ip), s.ports.map((p) => p.port)])).toEqual([
      [["10.1.0.1"], [8080]],
      [["10.1.0.2"], [9000]],
    ]);
  });
});

describe("EndpointsController", () => {
  async function setup() {
    const f = fakeContext();
    const ec = new EndpointsController(f.ctx);
    const svc = await f.client.resource<Service>("Service").create(service());
    ec.services.store.upsert(svc);
    return { ...f, ec, svc };
  }

  it("writes Endpoints named after the Service, with its labels, and only when they change", async () => {
    const { ec, client } = await setup();
    ec.pods.store.upsert(pod("a", "10.1.0.1"));
    ec.pods.store.upsert(pod("other", "10.1.0.9", { labels: { app: "db" } }));
    await ec.sync("default/web");
    const [ep] = await stored<Endpoints>(client, "Endpoints");
    expect(ep!.metadata!.name).toBe("web");
    expect(ep!.metadata!.labels).toEqual({ team: "a" });
    expect(ep!.subsets[0]!.addresses.map((a) => a.ip)).toEqual(["10.1.0.1"]);
    ec.endpoints.store.upsert(ep!);
    const rv = ep!.metadata!.resourceVersion;
    await ec.sync("default/web");
    expect((await stored<Endpoints>(client, "Endpoints"))[0]!.metadata!.resourceVersion).toBe(rv);
    ec.pods.store.upsert(pod("b", "10.1.0.2", { ready: false }));
    await ec.sync("default/web");
    const after = (await stored<Endpoints>(client, "Endpoints"))[0]!;
    expect(after.subsets[0]!.notReadyAddresses.map((a) => a.ip)).toEqual(["10.1.0.2"]);
  });

  it("enqueues the Services a pod matches before and after a relabel, and deletes Endpoints of a gone Service", async () => {
    const { ec, client, svc } = await setup();
    const before = pod("a", "10.1.0.1");
    const after = pod("a", "10.1.0.1", { labels: { app: "other" } });
    ec.pods.store.upsert(after);
    // The pod watch maps an update's old and new pod to the Services they match.
    const enqueued = [...ec.servicesSelecting(before), ...ec.servicesSelecting(after)];
    // The old labels matched the Service, the new ones do not.
    expect(enqueued).toEqual(["default/web"]);
    await ec.sync("default/web");
    expect((await stored<Endpoints>(client, "Endpoints"))[0]!.subsets).toEqual([]);
    ec.services.store.delete("default/web");
    await client.resource<Service>("Service").delete(svc.metadata!.name, { namespace: "default" });
    await ec.sync("default/web");
    expect(await stored<Endpoints>(client, "Endpoints")).toEqual([]);
  });

  it("takes a pod out of the Endpoints once it is terminating, and a rollout's new pod in only once Ready", async () => {
    const { ec, client } = await setup();
    const sync = async () => {
      await ec.sync("default/web");
      const [ep] = await stored<Endpoints>(client, "Endpoints");
      ec.endpoints.store.upsert(ep!);
      return {
        ready: ep!.subsets.flatMap((s) => s.addresses.map((a) => a.ip)),
        notReady: ep!.subsets.flatMap((s) => s.notReadyAddresses.map((a) => a.ip)),
      };
    };
    ec.pods.store.upsert(pod("old", "10.1.0.1"));
    ec.pods.store.upsert(pod("new", "10.1.0.2", { ready: false }));
    expect(await sync()).toEqual({ ready: ["10.1.0.1"], notReady: ["10.1.0.2"] });
    ec.pods.store.upsert(pod("new", "10.1.0.2"));
    expect(await sync()).toEqual({ ready: ["10.1.0.1", "10.1.0.2"], notReady: [] });
    // The old pod is deleted (grace period running, still Ready and serving): it leaves at once.
    ec.pods.store.upsert(pod("old", "10.1.0.1", { deleting: true }));
    expect(await sync()).toEqual({ ready: ["10.1.0.2"], notReady: [] });
    // A Service publishing not-ready addresses keeps terminating pods, as Kubernetes does.
    const published = computeSubsets(service({ publishNotReadyAddresses: true }), [
      pod("old", "10.1.0.1", { deleting: true }),
    ]);
    expect(published[0]!.addresses.map((a) => a.ip)).toEqual(["10.1.0.1"]);
  });

  it("leaves Services without a selector and ExternalName Services alone", async () => {
    const { ec, client } = await setup();
    const manual = await client.resource<Service>("Service").create(
      Service.fromPartial({
        metadata: { name: "manual", namespace: "default" },
        spec: { ports: [{ port: 80 }] },
      }),
    );
    ec.services.store.upsert(manual);
    await ec.sync("default/manual");
    expect(await stored<Endpoints>(client, "Endpoints")).toEqual([]);
  });
});
