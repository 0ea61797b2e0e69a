import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigMap, type Event, KINDS, Pod } from "@tskube/api";
import { isNotFound } from "@tskube/machinery";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import { type ComponentHandle, freePort, ktl, REPO_ROOT, startComponent, waitFor } from "./harness.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;
const isRoot = process.getuid?.() === 0;
const NS = "default";

/** Two nodes on one host, each with its own pod CIDR and bridge (names as the runtime derives them). */
const NODES = [
  { name: "iso-a", cidr: "10.250.1.0/24" },
  { name: "iso-b", cidr: "10.250.2.0/24" },
];
const hash = (node: string) => createHash("sha1").update(node).digest("hex").slice(0, 10);
const bridgeOf = (node: string) => `tsk-${hash(node)}`;

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return r.stdout;
}

interface SandboxRecord {
  id: string;
  podUid: string;
  netns: string;
  veth: string;
}

/** A container's cgroup directory for one controller, from the kernel's view of its main process. */
function cgroupDir(pid: number, controller: "memory" | "cpu"): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n");
  const v1 = lines.find((l) => l.split(":")[1]?.split(",").includes(controller));
  if (v1) return join("/sys/fs/cgroup", v1.split(":")[1]!, v1.split(":")[2]!);
  const v2 = lines.find((l) => l.startsWith("0::"))!;
  return join("/sys/fs/cgroup", v2.slice(3));
}

describe.skipIf(!isRoot)("process runtime with namespaces and cgroups (root only; skipped otherwise)", () => {
  const c = useCluster();
  const rootDir = mkdtempSync(join(tmpdir(), "tskube-kubelet-iso-"));
  const kubelets = new Map<string, ComponentHandle>();
  // Mount points the runtime creates on the host (its root filesystem is the host's) and node-level
  // cgroup directories it keeps: removed after the run when this test made them.
  const mountPoints = ["/data", "/etc/iso-cfg"].filter((d) => !existsSync(d));
  const nodeCgroupDirs = new Set<string>();
  const ports = new Map<string, number>();
  const kubeletArgs = (node: { name: string; cidr: string }) => [
    "--port",
    String(ports.get(node.name)),
    "--server",
    c.servers.join(","),
    "--node-name",
    node.name,
    "--pod-cidr",
    node.cidr,
    "--process-isolation",
    "namespaces",
    "--root-dir",
    rootDir,
    "--node-status-update-frequency",
    "2s",
    "--node-lease-renew-interval",
    "2s",
    "--pleg-relist-period",
    "200ms",
  ];

  const pods = () => c.client.resource<Pod>(kind("Pod") as never);
  const get = (name: string) => pods().get(name, { namespace: NS });
  const gone = async (name: string) =>
    (await get(name).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)))) === undefined;
  const logs = async (name: string, container?: string) =>
    (await ktl(c.servers.join(","), ["logs", name, ...(container ? ["-c", container] : [])])).stdout;
  const phase = async (name: string, want: string) =>
    waitFor(`${name} ${want}`, async () => (await get(name)).status?.phase === want, 60_000);
  const running = async (name: string) =>
    waitFor(
      `${name} running`,
      async () => {
        const s = (await get(name)).status;
        return !!s?.containerStatuses.length && s.containerStatuses.every((x) => x.state?.running);
      },
      60_000,
    );
  const meta = (node: string, containerId: string) =>
    JSON.parse(
      readFileSync(
        join(rootDir, node, "containers", containerId.replace("process://", ""), "meta.json"),
        "utf8",
      ),
    ) as { pid: number };
  const sandboxOf = (node: string, uid: string) =>
    readdirSync(join(rootDir, node, "sandboxes"))
      .map((f) => JSON.parse(readFileSync(join(rootDir, node, "sandboxes", f), "utf8")) as SandboxRecord)
      .find((s) => s.podUid === uid);

  function pod(
    name: string,
    node: string,
    containers: Record<string, unknown>[],
    extra: Record<string, unknown> = {},
  ) {
    return Pod.fromPartial({
      metadata: { name, namespace: NS },
      spec: {
        nodeName: node,
        restartPolicy: "Never",
        terminationGracePeriodSeconds: 2,
        containers: containers.map((x) => ({ image: "busybox:1.36", ...x })),
        ...extra,
      },
    });
  }

  beforeAll(async () => {
    for (const n of NODES) {
      ports.set(n.name, await freePort());
      kubelets.set(n.name, await startComponent("kubelet", kubeletArgs(n)));
    }
  });
  afterAll(async () => {
    // Pods outlive a stopped kubelet (the next one adopts them): delete them while kubelets run.
    const left = (
      await pods()
        .list({ namespace: NS })
        .catch(() => ({ items: [] as Pod[] }))
    ).items;
    for (const p of left) await pods().delete(p.metadata!.name, { namespace: NS, gracePeriodSeconds: 0 });
    for (const p of left) await waitFor(`${p.metadata!.name} gone`, () => gone(p.metadata!.name), 30_000);
    for (const k of kubelets.values()) await k.stop();
    for (const n of NODES) {
      const br = bridgeOf(n.name);
      for (const dir of ["-i", "-o"])
        while (
          spawnSync("iptables", [
            "-D",
            "FORWARD",
            dir,
            br,
            "-m",
            "comment",
            "--comment",
            "tskube pod bridge",
            "-j",
            "ACCEPT",
          ]).status === 0
        );
      spawnSync("ip", ["link", "del", br]);
    }
    for (const d of [...mountPoints, ...nodeCgroupDirs]) spawnSync("rmdir", [d]);
  });

  it("binds emptyDir and configMap volumes at their mountPath, read-only where asked, in the pod's hostname", async () => {
    await c.client.resource<ConfigMap>(kind("ConfigMap") as never).create(
      ConfigMap.fromPartial({
        metadata: { name: "iso-cfg", namespace: NS },
        data: { greeting: "hello from a configMap" },
      }),
    );
    const script = [
      "cat /etc/iso-cfg/greeting; echo",
      "echo written > /data/file && cat /data/file",
      "(touch /etc/iso-cfg/new 2>/dev/null && echo cfg-writable) || echo cfg-read-only",
      "hostname",
    ].join("; ");
    await pods().create(
      pod(
        "volumes",
        "iso-a",
        [
          {
            name: "main",
            command: ["sh", "-c", script],
            volumeMounts: [
              { name: "scratch", mountPath: "/data" },
              { name: "cfg", mountPath: "/etc/iso-cfg", readOnly: true },
            ],
          },
        ],
        {
          volumes: [
            { name: "scratch", emptyDir: {} },
            { name: "cfg", configMap: { name: "iso-cfg" } },
          ],
        },
      ),
    );
    await phase("volumes", "Succeeded");
    expect(await logs("volumes")).toBe("hello from a configMap\nwritten\ncfg-read-only\nvolumes\n");
    // The binds lived in the container's mount namespace only: the host's /data has no such file.
    expect(existsSync("/data/file")).toBe(false);
    expect(existsSync("/etc/iso-cfg/greeting")).toBe(false);
    const uid = (await get("volumes")).metadata!.uid;
    const emptyDir = join(rootDir, "iso-a", "pods", uid, "volumes", "scratch", "file");
    expect(readFileSync(emptyDir, "utf8")).toBe("written\n");
    // Isolated pods get no "runs as host processes" warning.
    const reasons = (
      await c.client
        .resource<Event>(kind("Event") as never)
        .list({ namespace: NS, fieldSelector: "involvedObject.name=volumes" })
    ).items.map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(["Started"]));
    expect(reasons).not.toContain("NoIsolation");
  });

  it("gives the containers of one pod a shared localhost and pod IP, also for exec", async () => {
    const server = "require('net').createServer((s) => s.end('from-server\\n')).listen(7000, '127.0.0.1')";
    await pods().create(
      pod(
        "duo",
        "iso-a",
        [
          { name: "server", command: [process.execPath, "-e", server] },
          {
            name: "client",
            command: [
              "sh",
              "-c",
              "until busybox nc 127.0.0.1 7000 </dev/null 2>/dev/null; do sleep 0.2; done; ip -4 -o addr show dev eth0 | awk '{print $4}'; sleep 1000",
            ],
          },
        ],
        { restartPolicy: "Always" },
      ),
    );
    await running("duo");
    const ip = (await get("duo")).status!.podIp;
    expect(ip).toMatch(/^10\.250\.1\.\d+$/);
    await waitFor("client output", async () => (await logs("duo", "client")).includes("/24"), 30_000);
    expect(await logs("duo", "client")).toBe(`from-server\n${ip}/24\n`);
    // exec enters the same namespaces: the server container's eth0 has the pod IP, and its localhost the server.
    const out = await ktl(c.servers.join(","), [
      "exec",
      "duo",
      "-c",
      "server",
      "--",
      "sh",
      "-c",
      "ip -4 -o addr show dev eth0 | awk '{print $4}'; busybox nc 127.0.0.1 7000 </dev/null",
    ]);
    expect(out).toEqual({ code: 0, stdout: `${ip}/24\nfrom-server\n`, stderr: "" });
  });

  it("reaches a pod by its IP over TCP from another pod on the same node and from a pod on another node", async () => {
    const server = "require('http').createServer((q, r) => r.end('ok from web')).listen(8080)";
    await pods().create(
      pod(
        "web",
        "iso-a",
        [
          {
            name: "main",
            command: [process.execPath, "-e", server],
            ports: [{ name: "http", containerPort: 8080 }],
            // The kubelet probes from the host: the pod IP is reachable over the node's bridge.
            readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 1 },
          },
        ],
        { restartPolicy: "Always" },
      ),
    );
    await waitFor(
      "web Ready",
      async () => (await get("web")).status?.conditions.find((x) => x.type === "Ready")?.status === "True",
      60_000,
    );
    const webIp = (await get("web")).status!.podIp;
    for (const [name, node] of [
      ["near", "iso-a"],
      ["far", "iso-b"],
    ] as const) {
      await pods().create(
        pod(name, node, [
          {
            name: "main",
            command: [
              "sh",
              "-c",
              `ip -4 -o addr show dev eth0 | awk '{print $4}'; busybox wget -qO- http://${webIp}:8080/`,
            ],
          },
        ]),
      );
    }
    await phase("near", "Succeeded");
    await phase("far", "Succeeded");
    const near = await get("near");
    const far = await get("far");
    expect(near.status!.podIp).toMatch(/^10\.250\.1\.\d+$/);
    expect(far.status!.podIp).toMatch(/^10\.250\.2\.\d+$/);
    expect(new Set([webIp, near.status!.podIp, far.status!.podIp]).size).toBe(3);
    expect(await logs("near")).toBe(`${near.status!.podIp}/24\nok from web`);
    expect(await logs("far")).toBe(`${far.status!.podIp}/24\nok from web`);
    expect(far.status!.hostIp).toBe("10.250.2.1");
  });

  it("ends a container that allocates past its memory limit OOMKilled", async () => {
    const hog = "const a = []; setInterval(() => a.push(Buffer.alloc(16 << 20, 1)), 5)";
    await pods().create(
      pod("hog", "iso-b", [
        { name: "main", command: [process.execPath, "-e", hog], resources: { limits: { memory: "96Mi" } } },
      ]),
    );
    await phase("hog", "Failed");
    expect((await get("hog")).status!.containerStatuses[0]!.state?.terminated).toMatchObject({
      exitCode: 137,
      reason: "OOMKilled",
    });
  });

  it("writes CPU and memory limits into the container's cgroups", async () => {
    await pods().create(
      pod(
        "limited",
        "iso-b",
        [
          {
            name: "main",
            command: ["sleep", "1000"],
            resources: { limits: { cpu: "250m", memory: "48Mi" } },
          },
        ],
        { restartPolicy: "Always" },
      ),
    );
    await running("limited");
    const cs = (await get("limited")).status!.containerStatuses[0]!;
    const pid = meta("iso-b", cs.containerId).pid;
    const cpu = cgroupDir(pid, "cpu");
    const mem = cgroupDir(pid, "memory");
    for (const d of [cpu, mem]) {
      for (const n of NODES) nodeCgroupDirs.add(join(d, "../../..", n.name));
      nodeCgroupDirs.add(join(d, "../../.."));
    }
    expect(cpu).toContain(`/tskube/iso-b/${(await get("limited")).metadata!.uid}/`);
    if (existsSync(join(cpu, "cpu.max"))) {
      expect(readFileSync(join(cpu, "cpu.max"), "utf8").trim()).toBe("25000 100000");
      expect(readFileSync(join(mem, "memory.max"), "utf8").trim()).toBe(String(48 * 1024 * 1024));
    } else {
      expect(readFileSync(join(cpu, "cpu.cfs_quota_us"), "utf8").trim()).toBe("25000");
      expect(readFileSync(join(cpu, "cpu.cfs_period_us"), "utf8").trim()).toBe("100000");
      expect(readFileSync(join(mem, "memory.limit_in_bytes"), "utf8").trim()).toBe(String(48 * 1024 * 1024));
    }
    // The wrapper shell joined before it started the command, so the command is in there too.
    const procs = () => readFileSync(join(cpu, "cgroup.procs"), "utf8").trim().split("\n");
    expect(procs()).toContain(String(pid));
    await waitFor("sleep in the cgroup", async () => procs().length >= 2, 10_000);
    // An exec'd command is charged to the container too: it joins the same cgroups.
    const inside = await ktl(c.servers.join(","), ["exec", "limited", "--", "cat", "/proc/self/cgroup"]);
    const suffix = `/tskube/iso-b/${(await get("limited")).metadata!.uid}/${cs.containerId.replace("process://", "")}`;
    const lines = inside.stdout.split("\n");
    for (const controller of ["memory", "cpu"])
      expect(
        lines.some(
          (l) =>
            (l.split(":")[1]?.split(",").includes(controller) || l.startsWith("0::")) && l.endsWith(suffix),
        ),
      ).toBe(true);
  });

  it("removes the pod's network namespace, veth and cgroups when the pod is deleted", async () => {
    const p = await get("limited");
    const uid = p.metadata!.uid;
    const sandbox = sandboxOf("iso-b", uid)!;
    const pid = meta("iso-b", p.status!.containerStatuses[0]!.containerId).pid;
    const dirs = [cgroupDir(pid, "cpu"), cgroupDir(pid, "memory")];
    expect(existsSync(`/run/netns/${sandbox.netns}`)).toBe(true);
    expect(existsSync(`/sys/class/net/${sandbox.veth}`)).toBe(true);
    expect(sh("ip", ["-o", "link", "show", "master", bridgeOf("iso-b")])).toContain(sandbox.veth);
    await pods().delete("limited", { namespace: NS });
    await waitFor("limited gone", () => gone("limited"), 30_000);
    expect(existsSync(`/run/netns/${sandbox.netns}`)).toBe(false);
    expect(existsSync(`/sys/class/net/${sandbox.veth}`)).toBe(false);
    for (const d of dirs) {
      expect(existsSync(d)).toBe(false);
      expect(existsSync(join(d, ".."))).toBe(false);
    }
  });

  it("a kubelet killed with kill -9 and restarted adopts the running pod and clears stale leftovers", async () => {
    await pods().create(
      pod("steady", "iso-a", [{ name: "main", command: ["sleep", "1000"] }], { restartPolicy: "Always" }),
    );
    await pods().create(
      pod("forgotten", "iso-a", [{ name: "main", command: ["sleep", "1000"] }], { restartPolicy: "Always" }),
    );
    await running("steady");
    await running("forgotten");
    const before = (await get("steady")).status!;
    const sandbox = sandboxOf("iso-a", (await get("steady")).metadata!.uid)!;
    const forgotten = await get("forgotten");
    const forgottenSandbox = sandboxOf("iso-a", forgotten.metadata!.uid)!;
    const forgottenPid = meta("iso-a", forgotten.status!.containerStatuses[0]!.containerId).pid;
    const forgottenCgroup = cgroupDir(forgottenPid, "memory");
    await kubelets.get("iso-a")!.kill();
    // Deleted while its node's kubelet is down: the next kubelet finds a sandbox no pod owns.
    await pods().delete("forgotten", { namespace: NS, gracePeriodSeconds: 0 });
    await waitFor("forgotten gone from the API", () => gone("forgotten"), 30_000);
    // What a kubelet that died mid-setup leaves: a namespace no sandbox record owns, and the cgroup
    // of a pod nobody knows with a process still in it.
    const stale = `tskube-${hash("iso-a")}-00000000deadbeef`;
    spawnSync("ip", ["netns", "add", stale]);
    expect(existsSync(`/run/netns/${stale}`)).toBe(true);
    const pid = meta("iso-a", before.containerStatuses[0]!.containerId).pid;
    const staleCgroups = (["cpu", "memory"] as const).map((c) =>
      join(cgroupDir(pid, c), "../..", "no-such-pod", "c0"),
    );
    for (const d of staleCgroups) mkdirSync(d, { recursive: true });
    const orphan = spawn("sleep", ["1000"], { detached: true, stdio: "ignore" });
    const orphanExit = new Promise((r) => orphan.once("exit", r));
    for (const d of staleCgroups) writeFileSync(join(d, "cgroup.procs"), String(orphan.pid));
    kubelets.set("iso-a", await startComponent("kubelet", kubeletArgs(NODES[0]!)));
    await waitFor("stale namespace removed", async () => !existsSync(`/run/netns/${stale}`), 30_000);
    await orphanExit;
    await waitFor(
      "the forgotten pod's sandbox removed",
      async () => !existsSync(`/run/netns/${forgottenSandbox.netns}`) && !existsSync(forgottenCgroup),
      30_000,
    );
    expect(existsSync(`/sys/class/net/${forgottenSandbox.veth}`)).toBe(false);
    expect(() => process.kill(forgottenPid, 0)).toThrow();
    for (const d of staleCgroups) {
      expect(existsSync(d)).toBe(false);
      expect(existsSync(join(d, ".."))).toBe(false);
    }
    // The new kubelet serves the adopted container: exec lands in its namespaces (the pod IP on eth0).
    let out = "";
    await waitFor(
      "exec into the adopted container",
      async () => {
        const r = await ktl(c.servers.join(","), [
          "exec",
          "steady",
          "--",
          "sh",
          "-c",
          "ip -4 -o addr show dev eth0",
        ]);
        out = r.stdout;
        return r.code === 0;
      },
      30_000,
    );
    expect(out).toContain(`${before.podIp}/24`);
    const after = (await get("steady")).status!;
    expect(after.containerStatuses[0]!.containerId).toBe(before.containerStatuses[0]!.containerId);
    expect(after.containerStatuses[0]!.restartCount).toBe(0);
    expect(after.containerStatuses[0]!.state?.running?.startedAt).toBe(
      before.containerStatuses[0]!.state?.running?.startedAt,
    );
    expect(after.podIp).toBe(before.podIp);
    expect(existsSync(`/run/netns/${sandbox.netns}`)).toBe(true);
  });
});

describe("--process-isolation", () => {
  const kubelet = (args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "apps/kubelet/src/main.ts"), ...args], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      env: { ...process.env, TSKUBE_SERVER: "127.0.0.1:1" },
      timeout: 60_000,
    });

  it("refuses namespaces it cannot have, saying why, before doing anything", () => {
    const r = kubelet(["--process-isolation", "namespaces", "--pod-cidr", "127.9.0.0/16"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('error: --process-isolation: Invalid value: "namespaces": ');
    expect(r.stderr).toContain("pod CIDR 127.9.0.0/16 is a loopback range");
  });

  it("rejects an unknown value with the supported ones", () => {
    const r = kubelet(["--process-isolation", "yes"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'error: --process-isolation: Unsupported value: "yes": supported values: "auto", "namespaces", "none"\n',
    );
  });
});
