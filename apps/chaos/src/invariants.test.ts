import { Deployment, Pod, ReplicaSet } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { parseEndpointStatus, parseHashKv } from "./executors/types.js";
import {
  desiredReplicas,
  etcdMembersAgree,
  noAcknowledgedWriteLost,
  noDuplicatePods,
  noObjectLost,
  noWriteDuplicated,
  targetMet,
} from "./invariants.js";
import { duplicatePods, surgeLimit } from "./pods.js";
import { longestGap, percentile } from "./stats.js";

const deployment = (replicas: number, ready: number, maxSurge = "") =>
  Deployment.fromPartial({
    metadata: { name: "web", namespace: "default", uid: "d1" },
    spec: {
      replicas,
      ...(maxSurge
        ? { strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge, maxUnavailable: "0" } } }
        : {}),
    },
    status: { readyReplicas: ready, replicas: ready },
  });
const rs = (replicas: number) =>
  ReplicaSet.fromPartial({
    metadata: {
      name: "web-1",
      namespace: "default",
      uid: "rs1",
      ownerReferences: [{ kind: "Deployment", uid: "d1", name: "web", controller: true }],
    },
    spec: { replicas },
  });
const pod = (name: string, opts: { deleting?: boolean; phase?: string } = {}) =>
  Pod.fromPartial({
    metadata: {
      name,
      namespace: "default",
      uid: name,
      ownerReferences: [{ kind: "ReplicaSet", uid: "rs1", name: "web-1", controller: true }],
      ...(opts.deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}),
    },
    status: { phase: opts.phase ?? "Running" },
  });

describe("invariants", () => {
  it("DesiredReplicas names the Deployments short of ready replicas", () => {
    expect(desiredReplicas([deployment(3, 3)]).ok).toBe(true);
    const r = desiredReplicas([deployment(3, 2)]);
    expect(r.ok).toBe(false);
    expect(r.message).toBe("default/web 2/3 ready");
  });

  it("NoObjectLost allows controlled pods and pods of a node taken away, nothing else", () => {
    const before = [
      { uid: "1", kind: "ConfigMap", namespace: "default", name: "cm" },
      { uid: "2", kind: "Pod", namespace: "default", name: "owned", controlled: true, node: "node-2" },
      { uid: "3", kind: "Pod", namespace: "default", name: "bare", controlled: false, node: "node-1" },
      { uid: "4", kind: "Pod", namespace: "default", name: "bare2", controlled: false, node: "node-2" },
    ];
    expect(noObjectLost(before, new Set(["1", "4"]), new Set(["node-1"])).ok).toBe(true);
    const lost = noObjectLost(before, new Set(["4"]), new Set(["node-1"]));
    expect(lost.ok).toBe(false);
    expect(lost.message).toBe("lost 1: ConfigMap default/cm (1)");
    expect(noObjectLost(before, new Set(["1"]), new Set()).message).toBe(
      "lost 2: Pod default/bare (3), Pod default/bare2 (4)",
    );
  });

  it("NoDuplicatePods: replicas + maxSurge (rounded up) active pods, terminating and finished ones not counted", () => {
    expect(surgeLimit(rs(3), [deployment(3, 3)])).toBe(4); // 25% of 3 rounds up to 1
    expect(surgeLimit(rs(3), [deployment(3, 3, "0")])).toBe(3);
    expect(surgeLimit(rs(3), [])).toBe(3);
    const pods = [
      pod("a"),
      pod("b"),
      pod("c"),
      pod("d"),
      pod("old", { deleting: true }),
      pod("done", { phase: "Succeeded" }),
    ];
    expect(duplicatePods([rs(3)], pods, [deployment(3, 3)])).toEqual([]);
    const over = duplicatePods([rs(3)], [...pods, pod("e")], [deployment(3, 3)]);
    expect(over).toEqual([{ replicaSet: "default/web-1", active: 5, limit: 4 }]);
    expect(noDuplicatePods([{ ...over[0]!, at: 1 }], 10).message).toBe(
      "default/web-1 had 5 active pods, more than replicas + maxSurge = 4 (1 samples)",
    );
    expect(noDuplicatePods([], 10).ok).toBe(true);
  });

  it("EtcdMembersAgree needs every member, one leader and one hash", () => {
    const m = (member: string, leaderId: string, hash: number) => ({
      member,
      memberId: member,
      leaderId,
      revision: 10,
      raftAppliedIndex: 20,
      raftTerm: 2,
      hash,
      hashRevision: 9,
    });
    expect(etcdMembersAgree([m("a", "a", 1), m("b", "a", 1), m("c", "a", 1)]).ok).toBe(true);
    expect(etcdMembersAgree([m("a", "a", 1), m("b", "a", 2)]).message).toMatch(
      /^hashkv at revision 9 differs: a=1, b=2/,
    );
    expect(etcdMembersAgree([m("a", "a", 1), m("b", "b", 1)]).ok).toBe(false);
    expect(etcdMembersAgree([{ ...m("a", "a", 1), error: "connection refused" }]).message).toBe(
      "a: connection refused",
    );
    expect(etcdMembersAgree([]).ok).toBe(false);
  });

  it("NoAcknowledgedWriteLost and TargetMet", () => {
    expect(noAcknowledgedWriteLost(5, []).ok).toBe(true);
    expect(noAcknowledgedWriteLost(5, ["w1"]).message).toBe("1 of 5 acknowledged writes missing: w1");
    expect(noWriteDuplicated(5, 1, [])).toEqual({
      name: "NoWriteDuplicated",
      ok: true,
      message: "no write stored twice (5 acknowledged, 1 failed as maybe applied)",
    });
    expect(noWriteDuplicated(5, 0, ["e-w-abcde"]).message).toBe(
      "1 objects written that no acknowledged write returned: e-w-abcde",
    );
    expect(targetMet({ what: "x", value: 1.5, limit: 2, compare: "atMost", unit: "s" })).toEqual({
      name: "TargetMet",
      ok: true,
      message: "x: 1.500s (target ≤ 2.000s)",
    });
    expect(targetMet({ what: "x", value: 2.5, limit: 2, compare: "atMost", unit: "s" }).ok).toBe(false);
    expect(targetMet({ what: "r", value: 0.985, limit: 0.99, compare: "atLeast", unit: "%" }).message).toBe(
      "r: 98.50% (target ≥ 99.00%)",
    );
    expect(targetMet({ what: "x", value: undefined, limit: 2, compare: "atMost", unit: "s" }).ok).toBe(false);
  });

  it("parses etcdctl's JSON without rounding 64-bit member ids", () => {
    const s = parseEndpointStatus(
      "etcd-0",
      '[{"Endpoint":"http://127.0.0.1:2379","Status":{"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"revision":7,"raft_term":2},"leader":13668033151171901708,"raftIndex":4,"raftTerm":2,"raftAppliedIndex":4}}]',
    );
    expect(s).toEqual({
      member: "etcd-0",
      memberId: "13668033151171901709",
      leaderId: "13668033151171901708",
      revision: 7,
      raftAppliedIndex: 4,
      raftTerm: 2,
    });
    expect(
      parseHashKv("etcd-0", '[{"HashKV":{"header":{"revision":1},"hash":1084519789,"compact_revision":-1}}]'),
    ).toBe(1084519789);
    expect(() => parseHashKv("etcd-0", "[]")).toThrow("etcdctl endpoint hashkv of etcd-0: no hash in []");
  });

  it("percentile and longestGap", () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([5, 1, 3, 2, 4], 99)).toBe(5);
    expect(percentile([], 50)).toBe(0);
    expect(longestGap([12, 13, 18], 10, 20)).toBe(5);
    expect(longestGap([], 10, 20)).toBe(10);
  });
});
