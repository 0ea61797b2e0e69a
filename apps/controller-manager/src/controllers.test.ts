import { describe, expect, it } from "vitest";
import { enabledControllers, KNOWN_CONTROLLERS } from "./controllers.js";

describe("--controllers", () => {
  const all = Object.keys(KNOWN_CONTROLLERS);

  it("reads *, names and -names as kube-controller-manager does", () => {
    expect(enabledControllers("*")).toEqual(all);
    expect(enabledControllers("replicaset")).toEqual(["replicaset"]);
    expect(enabledControllers("*,-replicaset")).toEqual(all.filter((n) => n !== "replicaset"));
    expect(enabledControllers("")).toEqual([]);
  });

  it("rejects an unknown controller with the supported values", () => {
    expect(() => enabledControllers("*,cronjob")).toThrow(
      /--controllers: Unsupported value: "cronjob": supported values: "\*", "deployment", "endpoint", "garbagecollector", "namespace", "nodelifecycle", "replicaset", "service-lb-controller", "taint-eviction-controller"/,
    );
  });
});
