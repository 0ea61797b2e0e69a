import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type HostFacts, isolatedScript, resolveIsolation, shq } from "./process-isolation.js";

const host = (over: Partial<HostFacts> = {}): HostFacts => ({
  uid: 0,
  has: () => true,
  cgroupProblem: () => undefined,
  ...over,
});

describe("resolveIsolation", () => {
  it("auto isolates as root with the tools, cgroups and a routable pod CIDR", () => {
    expect(resolveIsolation("auto", "10.244.1.0/24", host())).toEqual({ mode: "namespaces", reason: "" });
  });

  it("auto falls back to host processes and says why", () => {
    expect(resolveIsolation("auto", "10.244.1.0/24", host({ uid: 1000 }))).toEqual({
      mode: "none",
      reason: "network namespaces, mounts and cgroups need root (running as uid 1000)",
    });
    expect(resolveIsolation("auto", "127.1.0.0/16", host()).reason).toBe(
      "pod CIDR 127.1.0.0/16 is a loopback range; a pod network needs one such as 10.244.1.0/24",
    );
  });

  it("namespaces fails with every reason when the host cannot isolate", () => {
    expect(() =>
      resolveIsolation(
        "namespaces",
        "10.0.0.0/31",
        host({ has: (c) => c !== "nsenter", cgroupProblem: () => "no cgroup hierarchy" }),
      ),
    ).toThrow(
      '--process-isolation: Invalid value: "namespaces": not on PATH: nsenter (iproute2, iptables, util-linux); pod CIDR 10.0.0.0/31 has no room for a gateway and pods; no cgroup hierarchy',
    );
  });

  it("none never isolates; anything else is an unsupported value", () => {
    expect(resolveIsolation("none", "10.244.1.0/24", host()).mode).toBe("none");
    expect(() => resolveIsolation("yes", "10.244.1.0/24", host())).toThrow(
      '--process-isolation: Unsupported value: "yes": supported values: "auto", "namespaces", "none"',
    );
  });
});

describe("isolatedScript", () => {
  it("quotes any argument for sh", () => {
    const r = spawnSync(
      "/bin/sh",
      ["-c", `printf '%s|' ${["a b", "it's", "$HOME", '"q"'].map(shq).join(" ")}`],
      {
        encoding: "utf8",
      },
    );
    expect(r.stdout).toBe(`a b|it's|$HOME|"q"|`);
  });

  it("records a setup failure as exit 128 with its message, without running the command", () => {
    const dir = mkdtempSync(join(tmpdir(), "tskube-script-"));
    const script = isolatedScript({
      cgroupProcs: [join(dir, "no-such-cgroup", "cgroup.procs")],
      mounts: [],
      hostname: "",
      startErrorFile: join(dir, "start-error"),
    });
    const r = spawnSync("/bin/sh", ["-c", script, "sh", "echo", "ran"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH, TSKUBE_EXIT_FILE: join(dir, "exit"), TSKUBE_WORKDIR: "/" },
    });
    expect(r.status).toBe(128);
    expect(r.stdout).toBe("");
    expect(readFileSync(join(dir, "exit"), "utf8")).toBe("128\n");
    expect(readFileSync(join(dir, "start-error"), "utf8")).toBe(
      `failed to join cgroup ${join(dir, "no-such-cgroup", "cgroup.procs")}\n`,
    );
  });

  it("joins the cgroups, then runs the command and records its exit code", () => {
    const dir = mkdtempSync(join(tmpdir(), "tskube-script-"));
    const procs = join(dir, "cgroup.procs");
    const script = isolatedScript({
      cgroupProcs: [procs],
      mounts: [],
      hostname: "",
      startErrorFile: join(dir, "e"),
    });
    const r = spawnSync("/bin/sh", ["-c", script, "sh", "sh", "-c", "echo $PPID; exit 3"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH, TSKUBE_EXIT_FILE: join(dir, "exit"), TSKUBE_WORKDIR: "/" },
    });
    expect(r.status).toBe(3);
    // The pid written to cgroup.procs is the wrapper's own, the parent of the command.
    expect(readFileSync(procs, "utf8").trim()).toBe(r.stdout.trim());
    expect(readFileSync(join(dir, "exit"), "utf8")).toBe("3\n");
  });

  it("binds parents before children and remounts read-only volumes", () => {
    const script = isolatedScript({
      cgroupProcs: [],
      mounts: [
        { source: "/v/logs", target: "/data/logs", readOnly: false, directory: true },
        { source: "/v/data", target: "/data", readOnly: true, directory: true },
        { source: "/v/cfg/key", target: "/etc/app.conf", readOnly: true, directory: false },
      ],
      hostname: "web-0",
      startErrorFile: "/x/e",
    });
    const binds = script.split("\n").filter((l) => l.startsWith("mount"));
    expect(binds).toEqual([
      "mount --bind '/v/data' '/data' || fail 'failed to mount /v/data at /data'",
      "mount -o remount,bind,ro '/data' || fail 'failed to mount /v/data at /data'",
      "mount --bind '/v/logs' '/data/logs' || fail 'failed to mount /v/logs at /data/logs'",
      "mount --bind '/v/cfg/key' '/etc/app.conf' || fail 'failed to mount /v/cfg/key at /etc/app.conf'",
      "mount -o remount,bind,ro '/etc/app.conf' || fail 'failed to mount /v/cfg/key at /etc/app.conf'",
    ]);
    expect(script).toContain("hostname 'web-0'");
  });
});
