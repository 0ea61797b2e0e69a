import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { Resolver } from "node:dns/promises";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Endpoints, KINDS, Pod, Service } from "@tskube/api";
import { isNotFound } from "@tskube/machinery";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DnsConfigurer } from "../../../apps/kubelet/src/dns-config.js";
import { useCluster } from "./cluster.js";
import { type ComponentHandle, freePort, ktl, REPO_ROOT, startComponent, waitFor } from "./harness.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;
const NS = "default";

/** The A answers for a name, or the resolver's error code (ENOTFOUND is NXDOMAIN). */
async function a(resolver: Resolver, name: string): Promise<string[] | string> {
  try {
    return (await resolver.resolve4(name)).sort();
  } catch (err) {
    return (err as { code: string }).code;
  }
}

/**
 * glibc's stub resolver with `options ndots:5`: a name with fewer than 5 dots is tried with each
 * search domain in order, then as it is; the first answer wins.
 */
async function resolveWithSearch(
  resolver: Resolver,
  name: string,
  search: string[],
): Promise<string[] | string> {
  const candidates = name.split(".").length - 1 < 5 ? [...search.map((s) => `${name}.${s}`), name] : [name];
  let last: string[] | string = "ENOTFOUND";
  for (const c of candidates) {
    last = await a(resolver, c);
    if (Array.isArray(last)) return last;
  }
  return last;
}

describe("cluster DNS with real etcd, apiserver and the dns process", () => {
  const c = useCluster();
  let dns: ComponentHandle;
  let resolver: Resolver;
  let port: number;
  const services = () => c.client.resource<Service>(kind("Service") as never);
  const endpoints = () => c.client.resource<Endpoints>(kind("Endpoints") as never);

  beforeAll(async () => {
    port = await freePort();
    dns = await startComponent("dns", [
      "--server",
      c.servers.join(","),
      "--listen-address",
      `127.0.0.1:${port}`,
      // No upstream: names outside the cluster domain are REFUSED (nothing leaves the machine).
      "--upstream",
      "",
    ]);
    await waitFor("dns ready", async () => (await fetch(`${dns.httpUrl}/readyz`)).ok, 30_000);
    resolver = new Resolver({ timeout: 1000, tries: 2 });
    resolver.setServers([`127.0.0.1:${port}`]);
    await services().create(
      Service.fromPartial({
        metadata: { name: "webapp", namespace: NS },
        spec: {
          selector: { app: "webapp" },
          ports: [{ name: "http", port: 80, targetPort: "8080", protocol: "TCP" }],
        },
      }),
    );
  });
  afterAll(async () => {
    await dns?.stop();
  });

  const clusterIp = async (name: string) => (await services().get(name, { namespace: NS })).spec!.clusterIp;

  it("answers webapp.default.svc.cluster.local with the Service's ClusterIP", async () => {
    const ip = await clusterIp("webapp");
    expect(ip).toMatch(/^10\.\d+\.\d+\.\d+$/);
    await waitFor(
      "webapp answered",
      async () =>
        JSON.stringify(await a(resolver, "webapp.default.svc.cluster.local")) === JSON.stringify([ip]),
    );
    expect(await resolver.resolveSrv("_http._tcp.webapp.default.svc.cluster.local")).toEqual([
      { name: "webapp.default.svc.cluster.local", port: 80, priority: 0, weight: 100 },
    ]);
    expect(await resolver.reverse(ip)).toEqual(["webapp.default.svc.cluster.local"]);
  });

  it("resolves webapp, webapp.default and the full name through a default pod's search list", async () => {
    const ip = await clusterIp("webapp");
    const { config } = new DnsConfigurer({
      clusterDns: ["127.0.0.1"],
      clusterDomain: "cluster.local",
      resolvConf: "",
    }).forPod(
      Pod.fromPartial({ metadata: { name: "p", namespace: NS }, spec: { dnsPolicy: "ClusterFirst" } }),
    );
    expect(config.searches).toEqual(["default.svc.cluster.local", "svc.cluster.local", "cluster.local"]);
    for (const name of ["webapp", "webapp.default", "webapp.default.svc", "webapp.default.svc.cluster.local"])
      expect(await resolveWithSearch(resolver, name, config.searches), name).toEqual([ip]);
    // The short name alone is not a cluster name: only the search list makes it one (as it is,
    // it is outside the cluster domain, refused without an upstream).
    expect(await a(resolver, "webapp.default")).toBe("EREFUSED");
    // From another namespace the short name is not found; the namespaced one is.
    const other = ["team.svc.cluster.local", "svc.cluster.local", "cluster.local"];
    expect(await a(resolver, "webapp.team.svc.cluster.local")).toBe("ENOTFOUND");
    expect(await resolveWithSearch(resolver, "webapp", other)).toBe("EREFUSED");
    expect(await resolveWithSearch(resolver, "webapp.default", other)).toEqual([ip]);
  });

  it("answers a headless Service with its endpoints' ready pod addresses", async () => {
    await services().create(
      Service.fromPartial({
        metadata: { name: "db", namespace: NS },
        spec: { clusterIp: "None", selector: { app: "db" }, ports: [{ name: "pg", port: 5432 }] },
      }),
    );
    await endpoints().create(
      Endpoints.fromPartial({
        metadata: { name: "db", namespace: NS },
        subsets: [
          {
            addresses: [
              { ip: "10.244.1.5", hostname: "db-0" },
              { ip: "10.244.2.6", hostname: "db-1" },
            ],
            notReadyAddresses: [{ ip: "10.244.3.7", hostname: "db-2" }],
            ports: [{ name: "pg", port: 5432, protocol: "TCP" }],
          },
        ],
      }),
    );
    await waitFor("db answered", async () =>
      Array.isArray(await a(resolver, "db.default.svc.cluster.local")),
    );
    expect(await a(resolver, "db.default.svc.cluster.local")).toEqual(["10.244.1.5", "10.244.2.6"]);
    expect(await a(resolver, "db-1.db.default.svc.cluster.local")).toEqual(["10.244.2.6"]);
    expect(await a(resolver, "db-2.db.default.svc.cluster.local")).toBe("ENOTFOUND");
    const srv = await resolver.resolveSrv("_pg._tcp.db.default.svc.cluster.local");
    expect(srv.map((s) => s.name).sort()).toEqual([
      "db-0.db.default.svc.cluster.local",
      "db-1.db.default.svc.cluster.local",
    ]);
  });

  it("answers an ExternalName Service with a CNAME to the external name", async () => {
    await services().create(
      Service.fromPartial({
        metadata: { name: "search", namespace: NS },
        spec: { type: "ExternalName", externalName: "search.example.com" },
      }),
    );
    await waitFor("search answered", async () => {
      try {
        return (await resolver.resolveCname("search.default.svc.cluster.local")).length > 0;
      } catch {
        return false;
      }
    });
    expect(await resolver.resolveCname("search.default.svc.cluster.local")).toEqual(["search.example.com"]);
  });

  it("answers NXDOMAIN for unknown cluster names, NODATA for AAAA of an IPv4 Service, REFUSED outside", async () => {
    expect(await a(resolver, "nothere.default.svc.cluster.local")).toBe("ENOTFOUND");
    expect(await a(resolver, "webapp.nons.svc.cluster.local")).toBe("ENOTFOUND");
    await expect(resolver.resolve6("webapp.default.svc.cluster.local")).rejects.toMatchObject({
      code: "ENODATA",
    });
    await expect(resolver.resolve4("example.com")).rejects.toMatchObject({ code: "EREFUSED" });
  });

  it("answers a Service as soon as it is created and stops once it is deleted (watch, no polling)", async () => {
    const created = Date.now();
    await services().create(
      Service.fromPartial({
        metadata: { name: "late", namespace: NS },
        spec: { ports: [{ port: 80 }] },
      }),
    );
    const ip = await clusterIp("late");
    await waitFor(
      "late answered",
      async () =>
        JSON.stringify(await a(resolver, "late.default.svc.cluster.local")) === JSON.stringify([ip]),
      10_000,
    );
    const seen = Date.now() - created;
    await services().delete("late", { namespace: NS });
    const deleted = Date.now();
    await waitFor(
      "late gone",
      async () => (await a(resolver, "late.default.svc.cluster.local")) === "ENOTFOUND",
      10_000,
    );
    console.log(
      `dns: a created Service answered after ${seen} ms, a deleted one NXDOMAIN after ${Date.now() - deleted} ms`,
    );
  });

  it("counts queries on /metrics", async () => {
    const text = await (await fetch(`${dns.httpUrl}/metrics`)).text();
    expect(text).toMatch(/dns_requests_total\{proto="udp",type="A"\} \d+/);
    expect(text).toMatch(/dns_responses_total\{rcode="NXDOMAIN",source="cluster"\} \d+/);
  });

  const isRoot = process.getuid?.() === 0;
  describe.skipIf(!isRoot)(
    "a pod of the process runtime in namespaces (root only; skipped otherwise)",
    () => {
      // NodeLocal DNSCache's link-local address: on the host's lo it is reachable from every pod
      // namespace through the bridge gateway, and resolv.conf can only name port 53.
      const DNS_IP = "169.254.20.10";
      const node = { name: "dns-node", cidr: "10.252.1.0/24" };
      const bridge = `tsk-${createHash("sha1").update(node.name).digest("hex").slice(0, 10)}`;
      let addedAddress = false;
      let podDns: ComponentHandle | undefined;
      let kubelet: ComponentHandle | undefined;
      const pods = () => c.client.resource<Pod>(kind("Pod") as never);

      beforeAll(async () => {
        addedAddress = spawnSync("ip", ["addr", "add", `${DNS_IP}/32`, "dev", "lo"]).status === 0;
        podDns = await startComponent("dns", [
          "--server",
          c.servers.join(","),
          "--listen-address",
          `${DNS_IP}:53`,
          "--upstream",
          "",
        ]);
        await waitFor("pod dns ready", async () => (await fetch(`${podDns!.httpUrl}/readyz`)).ok, 30_000);
        kubelet = await startComponent("kubelet", [
          "--port",
          String(await freePort()),
          "--server",
          c.servers.join(","),
          "--node-name",
          node.name,
          "--pod-cidr",
          node.cidr,
          "--process-isolation",
          "namespaces",
          "--root-dir",
          mkdtempSync(join(tmpdir(), "tskube-kubelet-dns-")),
          "--cluster-dns",
          DNS_IP,
          "--pleg-relist-period",
          "200ms",
        ]);
      });
      afterAll(async () => {
        const left = (
          await pods()
            .list({ namespace: NS })
            .catch(() => ({ items: [] as Pod[] }))
        ).items;
        for (const p of left) await pods().delete(p.metadata!.name, { namespace: NS, gracePeriodSeconds: 0 });
        for (const p of left)
          await waitFor(
            `${p.metadata!.name} gone`,
            async () =>
              await pods()
                .get(p.metadata!.name, { namespace: NS })
                .then(() => false)
                .catch((e) => (isNotFound(e) ? true : Promise.reject(e))),
            30_000,
          );
        await kubelet?.stop();
        await podDns?.stop();
        for (const dir of ["-i", "-o"])
          while (
            spawnSync("iptables", [
              "-D",
              "FORWARD",
              dir,
              bridge,
              "-m",
              "comment",
              "--comment",
              "tskube pod bridge",
              "-j",
              "ACCEPT",
            ]).status === 0
          );
        spawnSync("ip", ["link", "del", bridge]);
        if (addedAddress) spawnSync("ip", ["addr", "del", `${DNS_IP}/32`, "dev", "lo"]);
      });

      it("resolves webapp through its resolv.conf and sees WEBAPP_SERVICE_HOST", async () => {
        const ip = await clusterIp("webapp");
        await pods().create(
          Pod.fromPartial({
            metadata: { name: "resolver", namespace: NS },
            spec: {
              nodeName: node.name,
              restartPolicy: "Never",
              terminationGracePeriodSeconds: 1,
              containers: [
                {
                  name: "main",
                  image: "busybox:1.36",
                  command: [
                    "sh",
                    "-c",
                    'cat /etc/resolv.conf; getent hosts webapp; echo "host=$WEBAPP_SERVICE_HOST port=$WEBAPP_SERVICE_PORT"',
                  ],
                },
              ],
            },
          }),
        );
        await waitFor(
          "resolver done",
          async () => (await pods().get("resolver", { namespace: NS })).status?.phase === "Succeeded",
          60_000,
        );
        const out = (await ktl(c.servers.join(","), ["logs", "resolver"])).stdout;
        expect(out).toContain(`nameserver ${DNS_IP}\n`);
        expect(out).toContain("search default.svc.cluster.local svc.cluster.local cluster.local");
        expect(out).toContain("options ndots:5\n");
        expect(out).toMatch(
          new RegExp(`^${ip.replaceAll(".", "\\.")}\\s+webapp\\.default\\.svc\\.cluster\\.local`, "m"),
        );
        expect(out).toContain(`host=${ip} port=80`);
        // The host's own resolver configuration is untouched (the bind is in the pod's mount namespace).
        expect(spawnSync("cat", ["/etc/resolv.conf"], { encoding: "utf8" }).stdout).not.toContain(DNS_IP);
      });
    },
  );
});

describe("dns and kubelet DNS flags", () => {
  const run = (app: string, args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, `apps/${app}/src/main.ts`), ...args], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      env: { ...process.env, TSKUBE_SERVER: "127.0.0.1:1" },
      timeout: 60_000,
    });

  it("refuses bad values before starting, naming the flag", () => {
    const listen = run("dns", ["--listen-address", "localhost:53"]);
    expect(listen.status).toBe(2);
    expect(listen.stderr).toBe(
      'error: --listen-address: Invalid value: "localhost:53": must be an IP address and a port\n',
    );
    const upstream = run("dns", ["--upstream", "dns.example"]);
    expect(upstream.status).toBe(2);
    expect(upstream.stderr).toContain('--upstream: Invalid value: "dns.example"');
    const clusterDns = run("kubelet", ["--cluster-dns", "10.96.0.10,kube-dns"]);
    expect(clusterDns.status).toBe(2);
    expect(clusterDns.stderr).toBe(
      'error: --cluster-dns: Invalid value: "kube-dns": must be a valid IP address\n',
    );
  });
});
