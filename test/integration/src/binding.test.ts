import { KINDS, Pod } from "@tskube/api";
import { describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;

describe("pods/binding", () => {
  const c = useCluster();
  const pods = () => c.client.resource<Pod>(kind("Pod") as never);
  const create = (name: string) =>
    pods().create(
      Pod.fromPartial({
        metadata: { name, namespace: "default" },
        spec: { containers: [{ name: "c", image: "busybox:1.36" }] },
      }),
    );

  it("sets nodeName and PodScheduled once; refuses a second binding, a replaced pod and a bad node name", async () => {
    const pod = await create("bind-me");
    const bound = (await c.client.bind({
      namespace: "default",
      name: "bind-me",
      uid: pod.metadata!.uid,
      node: "node-1",
    })) as Pod;
    expect(bound.spec!.nodeName).toBe("node-1");
    const stored = await pods().get("bind-me", { namespace: "default" });
    expect(stored.spec!.nodeName).toBe("node-1");
    expect(stored.status!.conditions).toMatchObject([{ type: "PodScheduled", status: "True" }]);
    // Only the binding changed: the generation follows spec changes made by users, not this one.
    expect(stored.metadata!.generation).toBe(pod.metadata!.generation);

    await expect(c.client.bind({ namespace: "default", name: "bind-me", node: "node-2" })).rejects.toThrow(
      'Operation cannot be fulfilled on pods "bind-me": pod bind-me is already assigned to node "node-1"',
    );
    await create("other");
    await expect(
      c.client.bind({ namespace: "default", name: "other", uid: "not-its-uid", node: "node-1" }),
    ).rejects.toThrow(/Precondition failed: UID in precondition: not-its-uid/);
    await expect(c.client.bind({ namespace: "default", name: "other", node: "Bad_Node" })).rejects.toThrow(
      /Binding "other" is invalid: target.name: Invalid value: "Bad_Node"/,
    );
    await expect(c.client.bind({ namespace: "default", name: "missing", node: "node-1" })).rejects.toThrow(
      'pods "missing" not found',
    );
    expect((await pods().get("other", { namespace: "default" })).spec!.nodeName).toBe("");
  });
});
