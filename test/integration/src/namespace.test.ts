import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigMap, Namespace, type Pod, ReplicaSet, Secret } from "@tskube/api";
import { isForbidden, isNotFound } from "@tskube/machinery";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import {
  type ComponentHandle,
  freePort,
  startComponent,
  startControllerManager,
  waitFor,
} from "./harness.js";

/**
 * Namespace deletion with real etcd, apiserver, scheduler, a hollow kubelet and the
 * controller-manager: the namespace is Terminating, refuses new content, is emptied of every kind
 * (running pods stop through their kubelet) and then disappears; other namespaces keep theirs.
 */
describe("namespace controller", () => {
  const c = useCluster();
  const procs: ComponentHandle[] = [];

  beforeAll(async () => {
    procs.push(
      await startComponent("scheduler", ["--server", c.servers.join(","), "--leader-elect", "false"]),
    );
    procs.push(
      await startComponent("kubelet", [
        "--server",
        c.servers.join(","),
        "--runtime",
        "fake",
        "--node-name",
        "hollow-1",
        "--pod-cidr",
        "10.201.0.0/16",
        "--port",
        String(await freePort()),
        "--root-dir",
        mkdtempSync(join(tmpdir(), "tskube-hollow-")),
        "--pleg-relist-period",
        "200ms",
      ]),
    );
    procs.push(await startControllerManager(c.servers, "cm-a"));
  });
  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop();
  });

  it("empties a deleted namespace, refuses new content meanwhile, then removes it", async () => {
    const namespaces = c.client.resource<Namespace>("namespaces");
    const pods = c.client.resource<Pod>("pods");
    const configMaps = c.client.resource<ConfigMap>("configmaps");
    for (const name of ["doomed", "kept"]) {
      await namespaces.create(Namespace.fromPartial({ metadata: { name } }));
      await configMaps.create(
        ConfigMap.fromPartial({ metadata: { name: "cm", namespace: name }, data: { a: "1" } }),
      );
    }
    expect((await namespaces.get("doomed")).spec!.finalizers).toEqual(["kubernetes"]);
    await c.client
      .resource<Secret>("secrets")
      .create(Secret.fromPartial({ metadata: { name: "s", namespace: "doomed" }, stringData: { k: "v" } }));
    await c.client.resource<ReplicaSet>("replicasets").create(
      ReplicaSet.fromPartial({
        metadata: { name: "web", namespace: "doomed" },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" } },
            spec: {
              terminationGracePeriodSeconds: 2,
              containers: [{ name: "c", image: "busybox:1.36", command: ["sleep", "3600"] }],
            },
          },
        },
      }),
    );
    await waitFor("2 running pods in doomed", async () => {
      const items = (await pods.list({ namespace: "doomed" })).items;
      return items.length === 2 && items.every((p) => p.status?.phase === "Running");
    });

    await namespaces.delete("doomed");
    const terminating = await namespaces.get("doomed");
    expect(terminating.status!.phase).toBe("Terminating");
    expect(terminating.metadata!.deletionTimestamp).not.toBe("");
    const refused = await configMaps
      .create(ConfigMap.fromPartial({ metadata: { name: "late", namespace: "doomed" } }))
      .catch((e: unknown) => e);
    expect(isForbidden(refused)).toBe(true);
    expect((refused as Error).message).toContain(
      "unable to create new content in namespace doomed because it is being terminated",
    );

    await waitFor("namespace doomed gone", async () => {
      try {
        await namespaces.get("doomed");
        return false;
      } catch (err) {
        if (isNotFound(err)) return true;
        throw err;
      }
    });
    expect((await pods.list({ namespace: "doomed" })).items).toEqual([]);
    expect((await configMaps.list({ namespace: "doomed" })).items).toEqual([]);
    expect((await c.client.resource<ReplicaSet>("replicasets").list({ namespace: "doomed" })).items).toEqual(
      [],
    );
    expect((await c.client.resource<Secret>("secrets").list({ namespace: "doomed" })).items).toEqual([]);
    expect((await configMaps.list({ namespace: "kept" })).items.map((x) => x.metadata!.name)).toEqual(["cm"]);
    expect((await namespaces.get("kept")).status!.phase).toBe("Active");
  });
});
