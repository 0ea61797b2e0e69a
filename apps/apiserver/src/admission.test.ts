import { KINDS, Pod, type Toleration } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { admissionChain, defaultTolerationSeconds } from "./admission.js";

const POD = KINDS.find((k) => k.kind === "Pod")!;
const CONFIG_MAP = KINDS.find((k) => k.kind === "ConfigMap")!;

function admitted(tolerations: Partial<Toleration>[], opts = { notReady: 300, unreachable: 300 }) {
  const pod = Pod.fromPartial({
    metadata: { name: "p" },
    spec: { containers: [{ name: "c", image: "x" }], tolerations },
  });
  defaultTolerationSeconds({
    defaultNotReadyTolerationSeconds: opts.notReady,
    defaultUnreachableTolerationSeconds: opts.unreachable,
  })(pod, POD);
  return pod.spec!.tolerations.map((t) => `${t.key}|${t.operator}|${t.effect}|${t.tolerationSeconds}`);
}

describe("DefaultTolerationSeconds admission", () => {
  it("adds 300 s tolerations for not-ready and unreachable NoExecute to a pod without them", () => {
    expect(admitted([])).toEqual([
      "node.kubernetes.io/not-ready|Exists|NoExecute|300",
      "node.kubernetes.io/unreachable|Exists|NoExecute|300",
    ]);
  });

  it("takes the times from its flags", () => {
    expect(admitted([], { notReady: 7, unreachable: 3 })).toEqual([
      "node.kubernetes.io/not-ready|Exists|NoExecute|7",
      "node.kubernetes.io/unreachable|Exists|NoExecute|3",
    ]);
  });

  it("keeps a pod's own toleration of either taint, including wildcard key or effect", () => {
    expect(
      admitted([
        {
          key: "node.kubernetes.io/unreachable",
          operator: "Exists",
          effect: "NoExecute",
          tolerationSeconds: 6000,
        },
      ]),
    ).toEqual([
      "node.kubernetes.io/unreachable|Exists|NoExecute|6000",
      "node.kubernetes.io/not-ready|Exists|NoExecute|300",
    ]);
    expect(admitted([{ key: "node.kubernetes.io/not-ready", operator: "Exists" }])).toEqual([
      "node.kubernetes.io/not-ready|Exists||undefined",
      "node.kubernetes.io/unreachable|Exists|NoExecute|300",
    ]);
    expect(admitted([{ operator: "Exists" }])).toEqual(["|Exists||undefined"]);
    // A NoSchedule toleration says nothing about NoExecute.
    expect(
      admitted([{ key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoSchedule" }]),
    ).toHaveLength(3);
  });

  it("leaves other kinds alone", () => {
    const chain = admissionChain();
    const cm = CONFIG_MAP.messageType.fromPartial({ metadata: { name: "c" } });
    const before = JSON.stringify(cm);
    chain(cm, CONFIG_MAP);
    expect(JSON.stringify(cm)).toBe(before);
  });
});
