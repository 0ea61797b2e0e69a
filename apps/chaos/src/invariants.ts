import type { Deployment } from "@tskube/api";
import type { EtcdMemberStatus } from "./executors/types.js";
import type { DuplicateSample } from "./pods.js";

export interface InvariantResult {
  name: string;
  ok: boolean;
  message: string;
}

const list = (items: string[], max = 5) =>
  items.length > max ? `${items.slice(0, max).join(", ")} and ${items.length - max} more` : items.join(", ");

/** Every Deployment has as many Ready replicas as it asks for. */
export function desiredReplicas(deployments: readonly Deployment[]): InvariantResult {
  const short = deployments
    .filter((d) => !d.metadata?.deletionTimestamp)
    .filter((d) => (d.status?.readyReplicas ?? 0) !== (d.spec?.replicas ?? 1))
    .map(
      (d) =>
        `${d.metadata?.namespace}/${d.metadata?.name} ${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 1} ready`,
    );
  return {
    name: "DesiredReplicas",
    ok: short.length === 0,
    message: short.length ? list(short) : `${deployments.length} deployments at their desired ready replicas`,
  };
}

export interface SnapshotEntry {
  uid: string;
  kind: string;
  namespace: string;
  name: string;
  /** Pods: the node it was bound to and whether a controller owns it. */
  node?: string;
  controlled?: boolean;
}

/**
 * Every object that existed before the kill still exists (by uid), except pods that could
 * legitimately go: those a controller replaces, and those on a node the experiment took away
 * (evicted by the taint manager).
 */
export function noObjectLost(
  before: readonly SnapshotEntry[],
  after: ReadonlySet<string>,
  nodesTaken: ReadonlySet<string>,
): InvariantResult {
  const lost = before.filter((e) => {
    if (after.has(e.uid)) return false;
    if (e.kind === "Pod" && (e.controlled || (e.node && nodesTaken.has(e.node)))) return false;
    return true;
  });
  return {
    name: "NoObjectLost",
    ok: lost.length === 0,
    message: lost.length
      ? `lost ${lost.length}: ${list(lost.map((e) => `${e.kind} ${e.namespace ? `${e.namespace}/` : ""}${e.name} (${e.uid})`))}`
      : `all ${before.length} objects from before the kill are there`,
  };
}

/** The worst moment seen by the sampler during the window. */
export function noDuplicatePods(
  violations: readonly (DuplicateSample & { at: number })[],
  samples: number,
): InvariantResult {
  const worst = [...violations].sort((a, b) => b.active - b.limit - (a.active - a.limit))[0];
  return {
    name: "NoDuplicatePods",
    ok: violations.length === 0,
    message: worst
      ? `${worst.replicaSet} had ${worst.active} active pods, more than replicas + maxSurge = ${worst.limit} (${violations.length} samples)`
      : `no ReplicaSet above replicas + maxSurge in ${samples} samples`,
  };
}

/** All members answer, follow one leader, and hash the key space alike up to a common revision. */
export function etcdMembersAgree(members: readonly EtcdMemberStatus[]): InvariantResult {
  const name = "EtcdMembersAgree";
  if (members.length === 0) return { name, ok: false, message: "no etcd members found" };
  const failed = members.filter((m) => m.error);
  if (failed.length) return { name, ok: false, message: list(failed.map((m) => `${m.member}: ${m.error}`)) };
  const leaders = new Set(members.map((m) => m.leaderId));
  if (leaders.size !== 1 || leaders.has("") || leaders.has("0"))
    return {
      name,
      ok: false,
      message: `members disagree on the leader: ${list(members.map((m) => `${m.member}→${m.leaderId}`))}`,
    };
  const hashes = new Set(members.map((m) => m.hash));
  if (hashes.size !== 1 || hashes.has(undefined))
    return {
      name,
      ok: false,
      message: `hashkv at revision ${members[0]?.hashRevision} differs: ${list(members.map((m) => `${m.member}=${m.hash}`))}`,
    };
  return {
    name,
    ok: true,
    message: `${members.length} members, one leader, hashkv ${members[0]?.hash} at revision ${members[0]?.hashRevision} (applied index ${list(members.map((m) => `${m.member}=${m.raftAppliedIndex}`))})`,
  };
}

export function noAcknowledgedWriteLost(acknowledged: number, lost: string[]): InvariantResult {
  return {
    name: "NoAcknowledgedWriteLost",
    ok: lost.length === 0,
    message: lost.length
      ? `${lost.length} of ${acknowledged} acknowledged writes missing: ${list(lost)}`
      : `all ${acknowledged} acknowledged writes present`,
  };
}

/**
 * No object of the write stream without an acknowledged write behind it (one allowed per write
 * that failed saying it may or may not have been applied): counted as lost writes are.
 */
export function noWriteDuplicated(
  acknowledged: number,
  maybeApplied: number,
  duplicated: string[],
): InvariantResult {
  return {
    name: "NoWriteDuplicated",
    ok: duplicated.length === 0,
    message: duplicated.length
      ? `${duplicated.length} objects written that no acknowledged write returned: ${list(duplicated)}`
      : `no write stored twice (${acknowledged} acknowledged, ${maybeApplied} failed as maybe applied)`,
  };
}

export interface TargetSpec {
  /** What was measured ("replacement pods Ready elsewhere"). */
  what: string;
  /** Seconds (or a ratio for ratio targets). */
  value: number | undefined;
  limit: number;
  /** "atMost" for times, "atLeast" for ratios. */
  compare: "atMost" | "atLeast";
  unit: string;
}

export function targetMet(t: TargetSpec): InvariantResult {
  const name = "TargetMet";
  if (t.value === undefined) return { name, ok: false, message: `${t.what}: never observed` };
  const ok = t.compare === "atMost" ? t.value <= t.limit : t.value >= t.limit;
  const fmt = (v: number) => (t.unit === "%" ? `${(v * 100).toFixed(2)}%` : `${v.toFixed(3)}${t.unit}`);
  return {
    name,
    ok,
    message: `${t.what}: ${fmt(t.value)} (target ${t.compare === "atMost" ? "≤" : "≥"} ${fmt(t.limit)})`,
  };
}
