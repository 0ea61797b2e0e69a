import { KINDS, Namespace, Service } from "@tskube/api";
import { createClient } from "@tskube/client";
import { Etcd3 } from "etcd3";
import { describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import { waitFor } from "./harness.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;

const svc = (name: string, spec: Record<string, unknown> = {}) =>
  Service.fromPartial({
    metadata: { name, namespace: "alloc" },
    spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec },
  });

const toNumber = (ip: string) => ip.split(".").reduce((n, p) => n * 256 + Number(p), 0);
const inServiceRange = (ip: string) => toNumber(ip) >>> 20 === toNumber("10.96.0.0") >>> 20;

describe("Service ClusterIP and NodePort allocation (two apiservers on one etcd)", () => {
  const c = useCluster({ apiservers: 2 });
  const services = () => c.client.resource<Service>(kind("Service") as never);
  const ns = async () => {
    await c.client
      .resource(kind("Namespace"))
      .create(Namespace.fromPartial({ metadata: { name: "alloc" } }))
      .catch(() => undefined);
  };

  it("gives every Service its own ClusterIP and node ports, even when created at once through both apiservers", async () => {
    await ns();
    // One client per apiserver, so the creates really race on two processes.
    const clients = c.servers.map((s) => createClient({ servers: [s] }));
    try {
      const created = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          clients[i % 2]!.resource<Service>(kind("Service") as never).create(
            svc(`race-${i}`, {
              type: "NodePort",
              ports: [
                { name: "http", port: 80 },
                { name: "https", port: 443 },
              ],
            }),
          ),
        ),
      );
      const ips = created.map((s) => s.spec!.clusterIp);
      expect(ips.every(inServiceRange)).toBe(true);
      expect(new Set(ips).size).toBe(40);
      const ports = created.flatMap((s) => s.spec!.ports.map((p) => p.nodePort));
      // Automatic picks stay out of the static bands (node ports 30000-30085, IPs 10.96.0.1-10.96.1.0)
      // that values asked for by name come from.
      expect(ports.every((p) => p >= 30086 && p <= 32767)).toBe(true);
      expect(ips.every((ip) => toNumber(ip) > toNumber("10.96.1.0"))).toBe(true);
      expect(new Set(ports).size).toBe(80);
      expect(created[0]!.spec!.clusterIps).toEqual([created[0]!.spec!.clusterIp]);
      expect(created[0]!.spec!.ipFamilies).toEqual(["IPv4"]);
      expect(created[0]!.spec!.ipFamilyPolicy).toBe("SingleStack");
    } finally {
      for (const cl of clients) cl.close();
    }
  });

  it("honours a requested IP and node port and refuses taken or out-of-range ones in Kubernetes' words", async () => {
    await ns();
    const a = await services().create(
      svc("asked", { clusterIp: "10.96.0.100", type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] }),
    );
    expect(a.spec!.clusterIp).toBe("10.96.0.100");
    expect(a.spec!.ports[0]!.nodePort).toBe(30080);
    await expect(services().create(svc("same-ip", { clusterIp: "10.96.0.100" }))).rejects.toThrow(
      'Service "same-ip" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.100"]: failed to allocate IP 10.96.0.100: provided IP is already allocated',
    );
    await expect(
      services().create(svc("same-port", { type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] })),
    ).rejects.toThrow("spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated");
    await expect(services().create(svc("far-ip", { clusterIp: "192.168.1.1" }))).rejects.toThrow(
      "failed to allocate IP 192.168.1.1: the provided IP (192.168.1.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12",
    );
    await expect(
      services().create(svc("far-port", { type: "NodePort", ports: [{ port: 80, nodePort: 40000 }] })),
    ).rejects.toThrow(
      "spec.ports[0].nodePort: Invalid value: 40000: provided port is not in the valid range. The range of valid ports is 30000-32767",
    );
    // A refused create holds nothing: the failed "same-port" service did not keep its ClusterIP.
    for (const name of ["same-ip", "same-port", "far-ip", "far-port"])
      await expect(services().get(name, { namespace: "alloc" })).rejects.toThrow(/not found/);
  });

  it("frees the IP and node port on delete, so they can be asked for again", async () => {
    await ns();
    await services().create(
      svc("freed", { clusterIp: "10.96.0.200", type: "NodePort", ports: [{ port: 80, nodePort: 30050 }] }),
    );
    await services().delete("freed", { namespace: "alloc" });
    const again = await services().create(
      svc("freed-again", {
        clusterIp: "10.96.0.200",
        type: "NodePort",
        ports: [{ port: 80, nodePort: 30050 }],
      }),
    );
    expect(again.spec!.clusterIp).toBe("10.96.0.200");
    expect(again.spec!.ports[0]!.nodePort).toBe(30050);
  });

  it("keeps allocations across updates that omit them, and moves them when the type changes", async () => {
    await ns();
    const created = await services().create(
      svc("shifty", { type: "NodePort", ports: [{ port: 80, nodePort: 30060 }] }),
    );
    const ip = created.spec!.clusterIp;
    // An update that leaves out clusterIP and nodePort keeps both.
    const bare = svc("shifty", { type: "NodePort", ports: [{ port: 80 }] });
    bare.metadata!.resourceVersion = created.metadata!.resourceVersion;
    const kept = await services().update(bare);
    expect(kept.spec!.clusterIp).toBe(ip);
    expect(kept.spec!.ports[0]!.nodePort).toBe(30060);
    // NodePort → ClusterIP drops the node port, and it is free for others.
    const asClusterIP = svc("shifty", { type: "ClusterIP", ports: [{ port: 80 }] });
    asClusterIP.metadata!.resourceVersion = kept.metadata!.resourceVersion;
    const plain = await services().update(asClusterIP);
    expect(plain.spec!.ports[0]!.nodePort).toBe(0);
    expect(plain.spec!.clusterIp).toBe(ip);
    const taker = await services().create(
      svc("taker", { type: "NodePort", ports: [{ port: 80, nodePort: 30060 }] }),
    );
    expect(taker.spec!.ports[0]!.nodePort).toBe(30060);
    // ExternalName gives the IP back; a Service may then ask for it.
    const external = svc("shifty", { type: "ExternalName", externalName: "db.example.com", ports: [] });
    external.metadata!.resourceVersion = plain.metadata!.resourceVersion;
    const ext = await services().update(external);
    expect(ext.spec!.clusterIp).toBe("");
    const reuse = await services().create(svc("reuse", { clusterIp: ip }));
    expect(reuse.spec!.clusterIp).toBe(ip);
    // A read-modify-write that only changes the type drops what the old type alone used.
    const lb = await services().create(svc("lb", { type: "LoadBalancer" }));
    expect(lb.spec!.externalTrafficPolicy).toBe("Cluster");
    lb.spec!.type = "ClusterIP";
    const demoted = await services().update(lb);
    expect(demoted.spec!.externalTrafficPolicy).toBe("");
    expect(demoted.spec!.allocateLoadBalancerNodePorts).toBeUndefined();
    expect(demoted.spec!.ports[0]!.nodePort).toBe(0);
    expect(demoted.spec!.clusterIp).toBe(lb.spec!.clusterIp);
    // Headless and ExternalName services get no address.
    expect((await services().create(svc("headless", { clusterIp: "None" }))).spec!.clusterIp).toBe("None");
  });
});

describe("Service allocation limits and repair", () => {
  const c = useCluster({
    apiserverArgs: [
      "--service-cluster-ip-range",
      "10.0.0.0/29",
      "--service-node-port-range",
      "30000-30002",
      "--service-allocator-repair-interval",
      "1s",
    ],
  });
  const services = () => c.client.resource<Service>(kind("Service") as never);

  it("says the range is full, and the repair loop frees reservations no Service holds", async () => {
    await c.client.resource(kind("Namespace")).create(Namespace.fromPartial({ metadata: { name: "alloc" } }));
    // 10.0.0.0/29 has six usable addresses and 30000-30002 three node ports.
    for (let i = 0; i < 3; i++) await services().create(svc(`np${i}`, { type: "NodePort" }));
    for (let i = 0; i < 3; i++) await services().create(svc(`s${i}`));
    await expect(services().create(svc("s3"))).rejects.toThrow(
      "Internal error occurred: failed to allocate a serviceIP: range is full",
    );
    await services().delete("s0", { namespace: "alloc" });
    await expect(services().create(svc("np3", { type: "NodePort" }))).rejects.toThrow(
      "Internal error occurred: failed to allocate a nodePort: range is full",
    );
    // The address np3 took before its node port failed was given back.
    await services().create(svc("s0-again"));
    await services().delete("s1", { namespace: "alloc" });

    // A reservation left by an apiserver that died before writing its Service (an hour old).
    const etcd = new Etcd3({ hosts: c.etcd.endpoint });
    try {
      const freed = (await services().list({ namespace: "alloc" })).items.map((s) => s.spec!.clusterIp);
      const leaked = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"].find(
        (ip) => !freed.includes(ip),
      )!;
      await etcd
        .put(`/registry/ranges/serviceips/${leaked}`)
        .value(
          JSON.stringify({ namespace: "alloc", name: "ghost", uid: "gone", at: Date.now() - 3_600_000 }),
        );
      // A Service whose reservation is missing (storage restored from an older backup) gets it back.
      const held = freed[0]!;
      await etcd.delete().key(`/registry/ranges/serviceips/${held}`);
      await waitFor("repair", async () => {
        const ghost = await etcd.get(`/registry/ranges/serviceips/${leaked}`).string();
        const back = await etcd.get(`/registry/ranges/serviceips/${held}`).string();
        return ghost === null && back !== null;
      });
      const reused = await services().create(svc("after-repair", { clusterIp: leaked }));
      expect(reused.spec!.clusterIp).toBe(leaked);
      await expect(services().create(svc("dup", { clusterIp: held }))).rejects.toThrow(
        "provided IP is already allocated",
      );
    } finally {
      etcd.close();
    }
  });
});
