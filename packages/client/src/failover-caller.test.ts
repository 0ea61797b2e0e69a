import { status as GrpcStatus, Metadata } from "@grpc/grpc-js";
import { UnaryCallError, type UnaryMethod } from "@tskube/grpc/unary-channel";
import { ApiError, errors, isConflict } from "@tskube/machinery";
import { describe, expect, it } from "vitest";
import { isAmbiguousWrite } from "./errors.js";
import { FailoverCaller } from "./failover-caller.js";
import type { CallPolicy, Judge, Judgement } from "./write-outcome.js";

/** What one attempt on a fake channel does. */
type Step =
  | { ok: string }
  /** Fails before the request left: no connection, REFUSED_STREAM, above a GOAWAY. */
  | "notSent"
  /** Fails after the request was handed to HTTP/2: the connection reset under it. */
  | "lost"
  | "conflict";

const method = { path: "/test/Write" } as unknown as UnaryMethod<string, string>;

/** Channels that play their scripted steps in order and record which one each attempt went to. */
function fakeServers(...scripts: Step[][]) {
  const attempts: number[] = [];
  const channels = scripts.map((script, i) => ({
    async call() {
      attempts.push(i);
      const step = script.shift();
      if (!step) throw new Error(`server ${i}: no step left`);
      if (typeof step === "object") return step.ok;
      if (step === "conflict")
        throw new UnaryCallError(GrpcStatus.ABORTED, "the object has been modified", new Metadata());
      throw new UnaryCallError(
        GrpcStatus.UNAVAILABLE,
        step === "notSent"
          ? `cannot connect (ECONNREFUSED) to server-${i}`
          : `connection to server-${i} closed (stream reset with code 2)`,
        new Metadata(),
        step === "notSent",
      );
    },
  }));
  const caller = new FailoverCaller(channels as never, { retries: 3, timeoutMs: 1_000 });
  return { caller, attempts };
}

const write = (judge?: Judge<string>): CallPolicy<string> => ({
  what: 'create configmaps with generateName "w-" in namespace "default"',
  details: { kind: "configmaps", name: "w-", group: "" },
  ...(judge ? { judge } : {}),
});

/** A judge answering from a script, recording what it was asked with. */
function scriptedJudge(...answers: (Judgement<string> | Error)[]) {
  const asked: (string | undefined)[] = [];
  const judge: Judge<string> = async (rejection) => {
    asked.push(rejection?.reason);
    const a = answers.shift();
    if (!a) throw new Error("judge asked once too often");
    if (a instanceof Error) throw a;
    return a;
  };
  return { judge, asked };
}

async function rejected(p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

describe("FailoverCaller: what is sent again after a failure", () => {
  it("sends a read again on the next server whether or not the lost attempt reached one", async () => {
    const { caller, attempts } = fakeServers(["lost"], ["notSent"], [{ ok: "read" }]);
    expect(await caller.call(method, "req", "idempotent")).toBe("read");
    expect(attempts).toEqual([0, 1, 2]);
    expect(caller.current).toBe(2);
  });

  it("sends a write again when no server processed it", async () => {
    const { caller, attempts } = fakeServers(["notSent"], [{ ok: "created" }]);
    expect(await caller.call(method, "req", write())).toBe("created");
    expect(attempts).toEqual([0, 1]);
  });

  it("never sends a write again whose answer was lost after it was sent: a clear error, one attempt", async () => {
    const { caller, attempts } = fakeServers(["lost"], [{ ok: "second object" }]);
    const err = await rejected(caller.call(method, "req", write()));
    expect(isAmbiguousWrite(err)).toBe(true);
    expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(err.reason).toBe("ServiceUnavailable");
    expect(err.message).toBe(
      'create configmaps with generateName "w-" in namespace "default": the request may or may not have been applied (connection to server-0 closed (stream reset with code 2)); it was not sent again, as repeating it could apply it twice',
    );
    expect(err.details).toEqual({ kind: "configmaps", name: "w-", group: "" });
    expect(attempts).toEqual([0]);
    // The next call goes to the server that is still up.
    expect(caller.current).toBe(1);
  });

  it("a judge that finds the lost write applied answers for it; nothing is sent again", async () => {
    const { judge, asked } = scriptedJudge({ outcome: "applied", response: "as stored" });
    const { caller, attempts } = fakeServers(["lost"], []);
    expect(await caller.call(method, "req", write(judge))).toBe("as stored");
    expect(asked).toEqual([undefined]);
    expect(attempts).toEqual([0]);
  });

  it("a judge that says resend gets the write sent again on the next server", async () => {
    const { judge } = scriptedJudge({ outcome: "resend" });
    const { caller, attempts } = fakeServers(["lost"], [{ ok: "updated" }]);
    expect(await caller.call(method, "req", write(judge))).toBe("updated");
    expect(attempts).toEqual([0, 1]);
  });

  it("a Conflict on the resend is judged again: the lost attempt may have landed in between", async () => {
    const applied = scriptedJudge({ outcome: "resend" }, { outcome: "applied", response: "ours" });
    const a = fakeServers(["lost"], ["conflict"]);
    expect(await a.caller.call(method, "req", write(applied.judge))).toBe("ours");
    expect(applied.asked).toEqual([undefined, "Conflict"]);

    const unknown = scriptedJudge({ outcome: "resend" }, { outcome: "unknown", why: "it has changed since" });
    const b = fakeServers(["lost"], ["conflict"]);
    const err = await rejected(b.caller.call(method, "req", write(unknown.judge)));
    // Never a bare Conflict: a retry-on-conflict caller would apply its change a second time.
    expect(isAmbiguousWrite(err)).toBe(true);
    expect(err.message).toMatch(/may or may not have been applied .*; it has changed since$/);

    const stands = scriptedJudge({ outcome: "resend" }, { outcome: "resend" });
    const c = fakeServers(["lost"], ["conflict"]);
    expect(isConflict(await rejected(c.caller.call(method, "req", write(stands.judge))))).toBe(true);
  });

  it("a Conflict with no lost attempt before it is the server's answer, not judged", async () => {
    const { judge, asked } = scriptedJudge();
    const { caller } = fakeServers(["conflict"]);
    expect(isConflict(await rejected(caller.call(method, "req", write(judge))))).toBe(true);
    expect(asked).toEqual([]);
  });

  it("a judge that cannot read the object leaves the outcome unknown", async () => {
    const { judge } = scriptedJudge(errors.serviceUnavailable("cannot connect to any apiserver"));
    const { caller } = fakeServers(["lost"], []);
    const err = await rejected(caller.call(method, "req", write(judge)));
    expect(isAmbiguousWrite(err)).toBe(true);
    expect(err.message).toMatch(/re-reading the object failed \(cannot connect to any apiserver\)$/);
  });

  it("running out of retries after a lost attempt is still ambiguous, not 'unavailable'", async () => {
    const { judge } = scriptedJudge({ outcome: "resend" });
    const { caller, attempts } = fakeServers(["lost", "notSent"], ["notSent", "notSent"]);
    const err = await rejected(caller.call(method, "req", write(judge)));
    expect(isAmbiguousWrite(err)).toBe(true);
    expect(err.message).toMatch(
      /no apiserver answered it again \(cannot connect \(ECONNREFUSED\) to server-1\)$/,
    );
    expect(attempts).toEqual([0, 1, 0, 1]);
  });
});
