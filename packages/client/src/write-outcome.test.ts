import { type Any, ConfigMap, KINDS, type KindInfo, Pod, pack, unpack } from "@tskube/api";
import { errors } from "@tskube/machinery";
import { describe, expect, it } from "vitest";
import {
  describeCollectionWrite,
  describeCreate,
  holdsWhatWasSent,
  type JudgeContext,
  judgeNamedCreate,
  judgePreconditionedDelete,
  judgePreconditionedUpdate,
} from "./write-outcome.js";

const cmKind = KINDS.find((k) => k.kind === "ConfigMap") as unknown as KindInfo<ConfigMap>;
const podKind = KINDS.find((k) => k.kind === "Pod") as unknown as KindInfo<Pod>;
const gr = { group: "", resource: "configmaps", kind: "ConfigMap" };

const cm = (rv: string, data: Record<string, string>, extra: Partial<ConfigMap["metadata"]> = {}) =>
  ConfigMap.fromPartial({
    metadata: { name: "c", namespace: "default", resourceVersion: rv, ...extra },
    data,
  });

/** A judge context whose reads return `stored` (undefined: NotFound), counting them. */
function ctxWith(stored: ConfigMap | undefined) {
  const reads = { n: 0 };
  const ctx: JudgeContext<ConfigMap> = {
    kind: cmKind,
    decode: (any) => unpack<ConfigMap>(any),
    read: async () => {
      reads.n++;
      return stored ? pack(stored) : undefined;
    },
  };
  return { ctx, reads };
}
const wrap = (a: Any) => unpack<ConfigMap>(a);

describe("holdsWhatWasSent", () => {
  it("ignores what the server sets (apiVersion, kind, uid, resourceVersion, timestamps) and unset-versus-default", () => {
    const sent = ConfigMap.fromPartial({ metadata: { name: "c", labels: { a: "1" } }, data: { k: "v" } });
    const stored = ConfigMap.fromPartial({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "c",
        uid: "u-1",
        resourceVersion: "9",
        creationTimestamp: "2026-01-01T00:00:00Z",
        labels: { a: "1" },
        annotations: {},
      },
      data: { k: "v" },
      binaryData: {},
    });
    expect(holdsWhatWasSent(cmKind, sent, stored, "object")).toBe(true);
    expect(holdsWhatWasSent(cmKind, sent, { ...stored, data: { k: "w" } }, "object")).toBe(false);
    expect(
      holdsWhatWasSent(cmKind, sent, { ...stored, metadata: { ...stored.metadata!, labels: {} } }, "object"),
    ).toBe(false);
  });

  it("compares the status alone for a status write, everything but the status otherwise", () => {
    const sent = Pod.fromPartial({
      metadata: { name: "p" },
      spec: { nodeName: "n1" },
      status: { phase: "Running" },
    });
    const stored = Pod.fromPartial({
      metadata: { name: "p" },
      spec: { nodeName: "n1" },
      status: { phase: "Pending" },
    });
    expect(holdsWhatWasSent(podKind, sent, stored, "object")).toBe(true);
    expect(holdsWhatWasSent(podKind, sent, stored, "status")).toBe(false);
    // Defaults the apiserver adds make them differ: the outcome then stays unknown.
    const defaulted = { ...stored, spec: { ...stored.spec!, restartPolicy: "Always" } };
    expect(holdsWhatWasSent(podKind, sent, defaulted, "object")).toBe(false);
  });
});

describe("judgePreconditionedUpdate", () => {
  const sent = cm("5", { v: "2" });

  it("still at the precondition's version: not applied, send it again", async () => {
    const { ctx } = ctxWith(cm("5", { v: "1" }));
    expect(await judgePreconditionedUpdate(ctx, sent, "object", wrap)()).toEqual({ outcome: "resend" });
  });

  it("moved on and holding what was sent: applied, answered with the object as stored", async () => {
    const { ctx } = ctxWith(cm("6", { v: "2" }));
    const j = await judgePreconditionedUpdate(ctx, sent, "object", wrap)();
    expect(j.outcome).toBe("applied");
    expect(j.outcome === "applied" && j.response.metadata?.resourceVersion).toBe("6");
  });

  it("moved on and different, or deleted: unknown", async () => {
    expect(await judgePreconditionedUpdate(ctxWith(cm("7", { v: "3" })).ctx, sent, "object", wrap)()).toEqual(
      {
        outcome: "unknown",
        why: "the object has changed since (resourceVersion 5 → 7) and differs from what was sent",
      },
    );
    expect(await judgePreconditionedUpdate(ctxWith(undefined).ctx, sent, "object", wrap)()).toEqual({
      outcome: "unknown",
      why: "the object has been deleted since",
    });
  });

  it("a Conflict on the resend with the object at the precondition's version is not ours to explain", async () => {
    const { ctx } = ctxWith(cm("5", { v: "1" }));
    const j = await judgePreconditionedUpdate(
      ctx,
      sent,
      "object",
      wrap,
    )(errors.conflict(gr, "c", "uid mismatch"));
    expect(j.outcome).toBe("unknown");
  });
});

describe("judgeNamedCreate", () => {
  const sent = cm("", { v: "1" });

  it("sends a lost create again without reading (the name guards it)", async () => {
    const { ctx, reads } = ctxWith(undefined);
    expect(await judgeNamedCreate(ctx, sent, wrap)()).toEqual({ outcome: "resend" });
    expect(reads.n).toBe(0);
  });

  it("an AlreadyExists on the resend is the lost attempt's when the object holds what was sent", async () => {
    const exists = errors.alreadyExists(gr, "c");
    expect((await judgeNamedCreate(ctxWith(cm("3", { v: "1" })).ctx, sent, wrap)(exists)).outcome).toBe(
      "applied",
    );
    expect(await judgeNamedCreate(ctxWith(cm("3", { v: "other" })).ctx, sent, wrap)(exists)).toEqual({
      outcome: "unknown",
      why: "an object of that name exists but differs from what was sent",
    });
  });

  it("names a generateName create by its prefix, a collection write by its namespace", () => {
    const obj = ConfigMap.fromPartial({ metadata: { generateName: "w-" } });
    expect(describeCreate(cmKind, obj, "ns")).toBe(
      'create configmaps with generateName "w-" in namespace "ns"',
    );
    expect(describeCollectionWrite("delete", cmKind, "ns")).toBe(
      'delete collection of configmaps in namespace "ns"',
    );
  });
});

describe("judgePreconditionedDelete", () => {
  it("sends a lost delete again; its NotFound stands", async () => {
    const { ctx, reads } = ctxWith(undefined);
    const judge = judgePreconditionedDelete(ctx, "u-1", wrap);
    expect(await judge()).toEqual({ outcome: "resend" });
    expect(await judge(errors.notFound(gr, "c"))).toEqual({ outcome: "resend" });
    expect(reads.n).toBe(0);
  });

  it("a Conflict on the resend is the lost attempt's when the same object is now terminating", async () => {
    const conflict = errors.conflict(gr, "c", "precondition failed");
    const terminating = cm("8", {}, { uid: "u-1", deletionTimestamp: "2026-01-01T00:00:00Z" });
    expect((await judgePreconditionedDelete(ctxWith(terminating).ctx, "u-1", wrap)(conflict)).outcome).toBe(
      "applied",
    );
    const replaced = cm("9", {}, { uid: "u-2", deletionTimestamp: "2026-01-01T00:00:00Z" });
    expect(await judgePreconditionedDelete(ctxWith(replaced).ctx, "u-1", wrap)(conflict)).toEqual({
      outcome: "resend",
    });
    const changed = cm("9", {}, { uid: "u-1" });
    expect(await judgePreconditionedDelete(ctxWith(changed).ctx, "u-1", wrap)(conflict)).toEqual({
      outcome: "resend",
    });
  });
});
