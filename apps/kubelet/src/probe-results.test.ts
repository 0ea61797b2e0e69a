import { describe, expect, it } from "vitest";
import { ProbeResults } from "./probe-results.js";

describe("ProbeResults", () => {
  it("reports only changed verdicts, and names a liveness or startup failure as the restart reason", () => {
    const updates: string[] = [];
    const results = new ProbeResults((uid) => updates.push(uid));
    results.set("uid-1", "c1", "liveness", { ok: true, message: "" });
    results.set("uid-1", "c1", "liveness", { ok: true, message: "" });
    results.set("uid-1", "c1", "readiness", { ok: false, message: "" });
    expect(updates).toEqual(["uid-1", "uid-1"]);
    // A readiness failure is no reason to restart.
    expect(results.restartReason("c1")).toBeUndefined();
    results.set("uid-1", "c1", "liveness", { ok: false, message: "Container app failed liveness probe" });
    expect(updates).toHaveLength(3);
    expect(results.restartReason("c1")).toEqual({
      kind: "liveness",
      message: "Container app failed liveness probe",
    });
    expect(results.get("c1", "readiness")).toEqual({ ok: false, message: "" });
    results.set("uid-2", "c2", "startup", { ok: false, message: "Container db failed startup probe" });
    expect(results.restartReason("c2")).toEqual({
      kind: "startup",
      message: "Container db failed startup probe",
    });
    results.remove("c1");
    expect(results.restartReason("c1")).toBeUndefined();
    expect(results.get("c1", "liveness")).toBeUndefined();
  });
});
