import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Cgroups, oomKilled, parseMountInfo, parseProcCgroup } from "./cgroups.js";

/** A cgroup filesystem laid out in a temporary directory, as the kernel would show it. */
function fakeV1() {
  const root = mkdtempSync(join(tmpdir(), "tskube-cg1-"));
  for (const c of ["memory", "cpu,cpuacct"]) mkdirSync(join(root, c), { recursive: true });
  const mountInfo = [
    `30 25 0:26 / ${root} rw,relatime - tmpfs tmpfs rw,mode=755`,
    `33 30 0:29 / ${root}/memory rw,relatime - cgroup cgroup rw,memory`,
    `34 30 0:30 / ${root}/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct`,
    `35 30 0:31 / ${root}/unified rw,relatime - cgroup2 cgroup2 rw`,
  ].join("\n");
  const procCgroup = ["4:memory:/session/abc", "2:cpu,cpuacct:/", "0::/"].join("\n");
  return { root, mountInfo, procCgroup };
}

function fakeV2() {
  const root = mkdtempSync(join(tmpdir(), "tskube-cg2-"));
  writeFileSync(join(root, "cgroup.controllers"), "cpuset cpu io memory pids\n");
  writeFileSync(join(root, "cgroup.subtree_control"), "");
  const mountInfo = `29 25 0:26 / ${root} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate`;
  return { root, mountInfo, procCgroup: "0::/user.slice/kubelet.scope\n" };
}

describe("cgroups", () => {
  it("parses mountinfo and /proc/self/cgroup", () => {
    const { root, mountInfo, procCgroup } = fakeV1();
    const mounts = parseMountInfo(mountInfo);
    expect(mounts.find((m) => m.superOptions.includes("cpu"))?.mountPoint).toBe(`${root}/cpu,cpuacct`);
    const own = parseProcCgroup(procCgroup);
    expect(own.get("memory")).toBe("/session/abc");
    expect(own.get("cpuacct")).toBe("/");
    expect(own.get("")).toBe("/");
  });

  it("v1: nests the tree under the kubelet's own cgroup per controller and writes limits", () => {
    const { root, mountInfo, procCgroup } = fakeV1();
    const cg = Cgroups.detect({ cfsPeriodUs: 100_000, mountInfo, procCgroup });
    expect(cg.version).toBe(1);
    const p = cg.create("node-1", "uid-1", "c1", { cpuMillis: 250, memoryBytes: 64 << 20 });
    expect(p.memory).toBe(join(root, "memory/session/abc/tskube/node-1/uid-1/c1"));
    expect(p.cpu).toBe(join(root, "cpu,cpuacct/tskube/node-1/uid-1/c1"));
    expect(readFileSync(join(p.memory, "memory.limit_in_bytes"), "utf8")).toBe(String(64 << 20));
    expect(readFileSync(join(p.cpu, "cpu.cfs_quota_us"), "utf8")).toBe("25000");
    expect(readFileSync(join(p.cpu, "cpu.cfs_period_us"), "utf8")).toBe("100000");
    expect(cg.podUids("node-1")).toEqual(["uid-1"]);
    expect(cg.containerIds("node-1", "uid-1")).toEqual(["c1"]);
    expect(cg.podUids("node-2")).toEqual([]);
  });

  it("v1: a tiny CPU limit still gets the kernel's 1ms minimum quota, and no limit writes nothing", () => {
    const { mountInfo, procCgroup } = fakeV1();
    const cg = Cgroups.detect({ cfsPeriodUs: 100_000, mountInfo, procCgroup });
    const p = cg.create("n", "u", "tiny", { cpuMillis: 1 });
    expect(readFileSync(join(p.cpu, "cpu.cfs_quota_us"), "utf8")).toBe("1000");
    const q = cg.create("n", "u", "free", {});
    expect(() => readFileSync(join(q.cpu, "cpu.cfs_quota_us"))).toThrow(/ENOENT/);
    expect(() => readFileSync(join(q.memory, "memory.limit_in_bytes"))).toThrow(/ENOENT/);
  });

  it("v2: one tree under the hierarchy root, controllers handed down each level, cpu.max and memory.max", () => {
    const { root, mountInfo, procCgroup } = fakeV2();
    // The kernel creates these in every new cgroup; mkdir in a plain directory does not.
    for (const d of ["tskube", "tskube/n", "tskube/n/u"]) {
      mkdirSync(join(root, d), { recursive: true });
      writeFileSync(join(root, d, "cgroup.subtree_control"), "");
    }
    const cg = Cgroups.detect({ cfsPeriodUs: 50_000, mountInfo, procCgroup });
    expect(cg.version).toBe(2);
    const p = cg.create("n", "u", "c", { cpuMillis: 1500, memoryBytes: 1 << 30 });
    expect(p.memory).toBe(p.cpu);
    expect(p.cpu).toBe(join(root, "tskube/n/u/c"));
    expect(readFileSync(join(p.cpu, "cpu.max"), "utf8")).toBe("75000 50000");
    expect(readFileSync(join(p.memory, "memory.max"), "utf8")).toBe(String(1 << 30));
    for (const d of ["", "tskube", "tskube/n", "tskube/n/u"])
      expect(readFileSync(join(root, d, "cgroup.subtree_control"), "utf8")).toBe("+memory +cpu");
  });

  it("v2: says so when the root cannot hand the controllers down (a container's cgroup namespace)", () => {
    const { root, mountInfo, procCgroup } = fakeV2();
    // A write that fails as the kernel's EBUSY would: a file that reads but takes no writes.
    rmSync(join(root, "cgroup.subtree_control"));
    symlinkSync("/proc/version", join(root, "cgroup.subtree_control"));
    expect(() => Cgroups.detect({ cfsPeriodUs: 100_000, mountInfo, procCgroup })).toThrow(
      /^cgroup v2: cannot enable the memory and cpu controllers in .*cgroup\.subtree_control: /,
    );
  });

  it("says what is missing when no hierarchy has memory and cpu", () => {
    expect(() =>
      Cgroups.detect({
        cfsPeriodUs: 100_000,
        mountInfo: "1 0 0:1 / / rw - ext4 /dev/vda rw",
        procCgroup: "0::/",
      }),
    ).toThrow(/no cgroup hierarchy with the memory and cpu controllers/);
  });

  it("reads OOM kills from memory.oom_control (v1) and memory.events (v2)", () => {
    const dir = mkdtempSync(join(tmpdir(), "tskube-oom-"));
    writeFileSync(join(dir, "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
    expect(oomKilled({ version: 1, memory: dir, cpu: dir })).toBe(false);
    writeFileSync(join(dir, "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    expect(oomKilled({ version: 1, memory: dir, cpu: dir })).toBe(true);
    writeFileSync(join(dir, "memory.events"), "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
    expect(oomKilled({ version: 2, memory: dir, cpu: dir })).toBe(true);
    writeFileSync(join(dir, "memory.events"), "low 0\nhigh 0\nmax 4\noom 0\noom_kill 0\n");
    expect(oomKilled({ version: 2, memory: dir, cpu: dir })).toBe(false);
  });
});
