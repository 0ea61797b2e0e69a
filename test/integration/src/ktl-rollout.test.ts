import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Deployment, KINDS, type ReplicaSet } from "@tskube/api";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import { type ComponentHandle, freePort, ktl, startComponent, startControllerManager } from "./harness.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;
const REPO_ROOT = new URL("../../..", import.meta.url).pathname;

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.26"}]
`;

/**
 * kubectl's deployment verbs through ktl against real etcd, apiserver, scheduler, a hollow kubelet
 * (pods go Running and Ready without containers) and the controller-manager.
 */
describe("ktl rollout, scale, set image, label, annotate and edit", () => {
  const c = useCluster();
  const procs: ComponentHandle[] = [];
  const server = () => c.servers.join(",");
  const run = (...args: string[]) => ktl(server(), args);
  const deployment = () =>
    c.client.resource<Deployment>(kind("Deployment") as never).get("web", { namespace: "default" });
  const image = async () => (await deployment()).spec!.template!.spec!.containers[0]!.image;
  const revisions = async () =>
    (await c.client.resource<ReplicaSet>(kind("ReplicaSet") as never).list({ namespace: "default" })).items
      .map((rs) => [
        rs.metadata!.annotations["deployment.kubernetes.io/revision"],
        rs.spec!.template!.spec!.containers[0]!.image,
      ])
      .sort((a, b) => Number(a[0]) - Number(b[0]));
  const rolledOut = async () => {
    const r = await run("rollout", "status", "deployment/web", "--timeout", "90s");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('deployment "web" successfully rolled out');
  };

  beforeAll(async () => {
    procs.push(await startComponent("scheduler", ["--server", server(), "--leader-elect", "false"]));
    procs.push(
      await startComponent("kubelet", [
        "--server",
        server(),
        "--runtime",
        "fake",
        "--node-name",
        "hollow-1",
        "--pod-cidr",
        "10.70.0.0/16",
        "--cpu",
        "8",
        "--memory",
        "16Gi",
        "--fake-start-delay",
        "50ms",
        "--port",
        String(await freePort()),
      ]),
    );
    procs.push(await startControllerManager(c.servers, "cm-ktl"));
    const r = await ktl(server(), ["apply", "-f", "-"], DEPLOYMENT);
    expect(r.stdout).toBe("deployment.apps/web created\n");
  });
  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop();
  });
  afterEach(() => {
    delete process.env.KUBE_EDITOR;
  });

  it("rollout status waits for the rollout; label and annotate change metadata as kubectl does", async () => {
    await rolledOut();
    expect((await run("label", "deployment", "web", "tier=fe")).stdout).toBe("deployment.apps/web labeled\n");
    const refused = await run("label", "deployment", "web", "tier=be");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("error: 'tier' already has a value (fe), and --overwrite is false");
    expect((await run("label", "deployment/web", "tier=be", "--overwrite")).stdout).toBe(
      "deployment.apps/web labeled\n",
    );
    expect((await run("label", "deployment/web", "--list")).stdout).toBe("app=web\ntier=be\n");
    expect((await run("label", "deployment/web", "tier-")).stdout).toBe("deployment.apps/web unlabeled\n");
    expect((await run("label", "deployment/web", "app=web")).stdout).toBe(
      "deployment.apps/web not labeled\n",
    );
    expect((await run("annotate", "deployment", "web", "owner=team-a")).stdout).toBe(
      "deployment.apps/web annotated\n",
    );
    const d = await deployment();
    expect(d.metadata!.labels).toEqual({ app: "web" });
    expect(d.metadata!.annotations.owner).toBe("team-a");
    const bad = await run("label", "deployment/web", "bad key=x");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("metadata.labels");
  });

  it("scale sets replicas with its preconditions; set image starts a rollout that history records", async () => {
    expect((await run("scale", "deployment", "web", "--replicas=3")).stdout).toBe(
      "deployment.apps/web scaled\n",
    );
    const wrong = await run("scale", "deployment/web", "--current-replicas=5", "--replicas=1");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("error: Expected replicas to be 5, was 3");
    expect((await deployment()).spec!.replicas).toBe(3);
    expect((await run("scale", "pod/x", "--replicas=1")).stderr).toContain("cannot scale pod/x");
    await rolledOut();

    expect((await run("set", "image", "deployment/web", "web=nginx:1.27")).stdout).toBe(
      "deployment.apps/web image updated\n",
    );
    const missing = await run("set", "image", "deployment/web", "db=postgres:16");
    expect(missing.stderr).toContain('error: unable to find container named "db"');
    await rolledOut();
    expect(await revisions()).toEqual([
      ["1", "nginx:1.26"],
      ["2", "nginx:1.27"],
    ]);
    const hist = await run("rollout", "history", "deployment/web");
    expect(hist.stdout).toMatch(/^deployment\.apps\/web\nREVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n/);
  });

  it("undo goes back to the previous revision (renumbered) or to --to-revision; history shows a revision's template", async () => {
    const undone = await run("rollout", "undo", "deployment/web");
    expect(undone.stdout, undone.stderr).toBe("deployment.apps/web rolled back\n");
    await rolledOut();
    expect(await image()).toBe("nginx:1.26");
    // Revision 1's template came back as revision 3; the number 1 is gone.
    expect(await revisions()).toEqual([
      ["2", "nginx:1.27"],
      ["3", "nginx:1.26"],
    ]);
    const same = await run("rollout", "undo", "deployment/web", "--to-revision=3");
    expect(same.stdout).toBe(
      "deployment.apps/web skipped rollback (current template already matches revision 3)\n",
    );
    expect((await run("rollout", "undo", "deployment/web", "--to-revision=2")).stdout).toBe(
      "deployment.apps/web rolled back\n",
    );
    await rolledOut();
    expect(await image()).toBe("nginx:1.27");
    const none = await run("rollout", "undo", "deployment/web", "--to-revision=9");
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("unable to find specified revision 9 in history");
    const detail = await run("rollout", "history", "deployment/web", "--revision=3");
    expect(detail.stdout).toContain("deployment.apps/web with revision #3\nPod Template:");
    expect(detail.stdout).toMatch(/Image:\s+nginx:1\.26/);
  });

  it("pause, resume and restart, with kubectl's refusals while paused", async () => {
    expect((await run("rollout", "pause", "deployment/web")).stdout).toBe("deployment.apps/web paused\n");
    expect((await run("rollout", "pause", "deployment/web")).stdout).toBe(
      "deployment.apps/web already paused\n",
    );
    const undo = await run("rollout", "undo", "deployment/web");
    expect(undo.code).toBe(1);
    expect(undo.stderr).toContain("you cannot rollback a paused deployment");
    const restart = await run("rollout", "restart", "deployment/web");
    expect(restart.stderr).toContain("can't restart paused deployment (run rollout resume first)");
    // While paused the template changes but no new ReplicaSet is made.
    await run("set", "image", "deployment/web", "web=nginx:1.28");
    await new Promise((r) => setTimeout(r, 1000));
    expect((await revisions()).map((r) => r[1])).not.toContain("nginx:1.28");
    expect((await run("rollout", "resume", "deployment/web")).stdout).toBe("deployment.apps/web resumed\n");
    expect((await run("rollout", "resume", "deployment/web")).stdout).toBe(
      "deployment.apps/web already resumed\n",
    );
    await rolledOut();
    expect((await revisions()).map((r) => r[1])).toContain("nginx:1.28");
    expect((await run("rollout", "restart", "deployment/web")).stdout).toBe(
      "deployment.apps/web restarted\n",
    );
    const d = await deployment();
    expect(d.spec!.template!.metadata!.annotations["kubectl.kubernetes.io/restartedAt"]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    await rolledOut();
  });

  it("edit applies what the editor saved, reports conflicts, and gives up on the same invalid text twice", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ktl-editor-"));
    const editor = (name: string, script: string) => {
      const path = join(dir, name);
      writeFileSync(path, `#!/bin/sh\n${script}\n`);
      chmodSync(path, 0o755);
      return path;
    };
    process.env.KUBE_EDITOR = editor("replicas.sh", `sed -i 's/^  replicas: 3$/  replicas: 4/' "$1"`);
    const edited = await run("edit", "deployment/web");
    expect(edited.stdout, edited.stderr).toBe("deployment.apps/web edited\n");
    expect((await deployment()).spec!.replicas).toBe(4);

    process.env.KUBE_EDITOR = "true";
    expect((await run("edit", "deployment", "web")).stdout).toBe("Edit cancelled, no changes made.\n");

    // The editor changes the object on the server before saving: the saved edit is then stale.
    process.env.KUBE_EDITOR = editor(
      "conflict.sh",
      `cd ${REPO_ROOT} && node --import tsx apps/ktl/src/main.ts annotate deployment/web raced=yes >/dev/null\nsed -i 's/^  replicas: 4$/  replicas: 2/' "$1"`,
    );
    const conflict = await run("edit", "deployment/web");
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain("A copy of your changes has been stored to");
    expect(conflict.stderr).toContain("the object has been modified");
    expect((await deployment()).spec!.replicas).toBe(4);

    process.env.KUBE_EDITOR = editor("invalid.sh", `sed -i 's/^  replicas: 4$/  replicas: -1/' "$1"`);
    const invalid = await run("edit", "deployment/web");
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("Edit cancelled, no valid changes were saved.");
    expect((await deployment()).spec!.replicas).toBe(4);
  });
});
