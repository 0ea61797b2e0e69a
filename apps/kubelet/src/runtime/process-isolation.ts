import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { Cgroups } from "./cgroups.js";

/** What `--process-isolation` resolved to: containers in namespaces and cgroups, or plain host processes. */
export type IsolationMode = "namespaces" | "none";

export const ISOLATION_VALUES = ["auto", "namespaces", "none"] as const;

/** Host tools the namespaced mode runs: iproute2 for the pod network, util-linux for the rest. */
export const ISOLATION_TOOLS = ["ip", "iptables", "unshare", "nsenter", "mount", "hostname"] as const;

export interface HostFacts {
  uid: number;
  /** Whether a command is on PATH. */
  has(cmd: string): boolean;
  /** Undefined when cgroups with memory and cpu are usable, else why not. */
  cgroupProblem(): string | undefined;
}

function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // next directory
    }
  }
  return false;
}

export const hostFacts = (): HostFacts => ({
  uid: process.getuid?.() ?? -1,
  has: onPath,
  cgroupProblem: () => {
    try {
      Cgroups.detect();
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  },
});

/** Why this host or pod CIDR cannot give pods namespaces; empty when it can. */
export function isolationProblems(podCidr: string, facts: HostFacts): string[] {
  const problems: string[] = [];
  if (facts.uid !== 0)
    problems.push(`network namespaces, mounts and cgroups need root (running as uid ${facts.uid})`);
  const missing = ISOLATION_TOOLS.filter((t) => !facts.has(t));
  if (missing.length) problems.push(`not on PATH: ${missing.join(", ")} (iproute2, iptables, util-linux)`);
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(podCidr);
  if (!m) problems.push(`pod CIDR ${podCidr} is not an IPv4 CIDR`);
  else if (m[1] === "127")
    problems.push(`pod CIDR ${podCidr} is a loopback range; a pod network needs one such as 10.244.1.0/24`);
  else if (Number(m[5]) > 30) problems.push(`pod CIDR ${podCidr} has no room for a gateway and pods`);
  if (facts.uid === 0) {
    const cg = facts.cgroupProblem();
    if (cg) problems.push(cg);
  }
  return problems;
}

/**
 * `auto` isolates when it can and says why not otherwise; `namespaces` insists and fails with the
 * reasons; `none` runs host processes as before.
 */
export function resolveIsolation(
  requested: string,
  podCidr: string,
  facts: HostFacts = hostFacts(),
): { mode: IsolationMode; reason: string } {
  if (!(ISOLATION_VALUES as readonly string[]).includes(requested))
    throw new Error(
      `--process-isolation: Unsupported value: "${requested}": supported values: ${ISOLATION_VALUES.map((v) => `"${v}"`).join(", ")}`,
    );
  if (requested === "none") return { mode: "none", reason: "--process-isolation=none" };
  const problems = isolationProblems(podCidr, facts);
  if (problems.length === 0) return { mode: "namespaces", reason: "" };
  if (requested === "namespaces")
    throw new Error(`--process-isolation: Invalid value: "namespaces": ${problems.join("; ")}`);
  return { mode: "none", reason: problems.join("; ") };
}

/** One argument for /bin/sh, whatever it contains. */
export const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface BindMount {
  source: string;
  target: string;
  readOnly: boolean;
  /** A file is bound onto a file (a subPath of a configMap key, a hostPath file). */
  directory: boolean;
}

/**
 * The shell a namespaced container starts as, already inside the pod's network namespace and its
 * own mount and UTS namespaces: join the container's cgroups (so every process it starts is
 * limited and counted), bind each volume at its mountPath, set the pod's hostname, then run the
 * command and record its exit code where a restarted kubelet can read it. A setup failure is
 * recorded too (exit 128 plus a message), which the runtime reports as StartError.
 *
 * The root filesystem stays the host's (this runtime has no images): a mountPath is created on the
 * host as an empty directory or file if it does not exist, and is left there, since another
 * container may have its own volume bound on it. /tmp stays the host's too: the kubelet's state
 * directory (where this shell writes the exit code) may be under it.
 */
export function isolatedScript(o: {
  cgroupProcs: string[];
  mounts: BindMount[];
  hostname: string;
  startErrorFile: string;
}): string {
  const lines = [
    `fail() { printf '%s\\n' "$1" > ${shq(o.startErrorFile)}; printf '%s\\n' "$1" >&2; echo 128 > "$TSKUBE_EXIT_FILE"; exit 128; }`,
  ];
  for (const f of o.cgroupProcs)
    lines.push(`echo $$ > ${shq(f)} || fail ${shq(`failed to join cgroup ${f}`)}`);
  // Parents before children, so /data/logs lands inside a volume bound at /data.
  const mounts = [...o.mounts].sort((a, b) => a.target.split("/").length - b.target.split("/").length);
  for (const m of mounts) {
    const t = shq(m.target);
    const failed = shq(`failed to mount ${m.source} at ${m.target}`);
    lines.push(
      m.directory
        ? `mkdir -p ${t} || fail ${failed}`
        : `{ [ -e ${t} ] || { mkdir -p "$(dirname ${t})" && : > ${t}; }; } || fail ${failed}`,
    );
    lines.push(`mount --bind ${shq(m.source)} ${t} || fail ${failed}`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${t} || fail ${failed}`);
  }
  if (o.hostname)
    lines.push(`hostname ${shq(o.hostname)} || fail ${shq(`failed to set hostname ${o.hostname}`)}`);
  lines.push('cd "$TSKUBE_WORKDIR" 2>/dev/null; "$@"; code=$?; echo $code > "$TSKUBE_EXIT_FILE"; exit $code');
  return lines.join("\n");
}
