import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KINDS, Pod } from "@tskube/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./cluster.js";
import { ktlOnTerminal, openExec } from "./exec-session.js";
import { type ComponentHandle, freePort, ktl, startComponent, waitFor } from "./harness.js";

const kind = (k: string) => KINDS.find((x) => x.kind === k)!;

describe("ktl exec with the process runtime (stdin, TTY through script, exit codes)", () => {
  const c = useCluster();
  let kubelet: ComponentHandle;
  let scheduler: ComponentHandle;
  const server = () => c.servers.join(",");

  beforeAll(async () => {
    scheduler = await startComponent("scheduler", ["--server", server(), "--leader-elect", "false"]);
    kubelet = await startComponent("kubelet", [
      "--server",
      server(),
      "--node-name",
      "exec-node",
      "--pod-cidr",
      "127.43.0.0/16",
      "--root-dir",
      mkdtempSync(join(tmpdir(), "tskube-exec-")),
      "--port",
      String(await freePort()),
      "--pleg-relist-period",
      "200ms",
    ]);
    const pods = c.client.resource<Pod>(kind("Pod") as never);
    await pods.create(
      Pod.fromPartial({
        metadata: { name: "shell", namespace: "default" },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: "main", image: "busybox:1.36", command: ["sleep", "100000"] }],
        },
      }),
    );
    await waitFor(
      "shell Running",
      async () =>
        (await pods.get("shell", { namespace: "default" })).status?.containerStatuses[0]?.state?.running !==
        undefined,
      60_000,
    );
  });
  afterAll(async () => {
    await c.client
      .resource<Pod>(kind("Pod") as never)
      .delete("shell", { namespace: "default", gracePeriodSeconds: 0 })
      .catch(() => undefined);
    await kubelet?.stop();
    await scheduler?.stop();
  });

  it("ktl exec -i passes stdin through to cat and to sh's read, and its end is the command's EOF", async () => {
    const cat = await ktl(server(), ["exec", "-i", "shell", "--", "cat"], "line one\nline two\n");
    expect(cat).toMatchObject({ code: 0, stdout: "line one\nline two\n", stderr: "" });
    const read = await ktl(
      server(),
      ["exec", "-i", "shell", "--", "sh", "-c", "read x; echo got $x"],
      "hi\n",
    );
    expect(read).toMatchObject({ code: 0, stdout: "got hi\n" });
    const count = await ktl(server(), ["exec", "-i", "shell", "--", "wc", "-c"], "x".repeat(200_000));
    expect(count.stdout.trim()).toBe("200000");
  });

  it("the unary Exec call writes its stdin, closes it, and streams output then the exit code", async () => {
    let stdout = "";
    let exitCode: number | undefined;
    for await (const m of c.client.exec({
      namespace: "default",
      name: "shell",
      command: ["sh", "-c", "cat; exit 2"],
      stdin: Buffer.from("given up front\n"),
    })) {
      stdout += Buffer.from(m.stdout).toString();
      if (m.exitCode !== undefined) exitCode = m.exitCode;
    }
    expect(stdout).toBe("given up front\n");
    expect(exitCode).toBe(2);
  });

  it("ktl exec without -i keeps its output and exit code; errors read as kubectl's", async () => {
    const r = await ktl(server(), ["exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 7"]);
    expect(r).toMatchObject({
      code: 7,
      stdout: "out\n",
      stderr: "err\ncommand terminated with exit code 7\n",
    });
    const missing = await ktl(server(), ["exec", "nope", "--", "true"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('Error from server (NotFound): pods "nope" not found\n');
    const wrong = await ktl(server(), ["exec", "shell", "-c", "other", "--", "true"]);
    expect(wrong.stderr).toBe("Error from server (BadRequest): container other is not valid for pod shell\n");
  });

  it("a TTY from script: a /dev/pts terminal with the first size, resized, and the exit code", async () => {
    const s = openExec(c.client, { name: "shell", command: ["sh"], tty: true, width: 91, height: 23 });
    await s.typeUntil("tty\n", "/dev/pts/");
    await s.typeUntil("stty size\n", "23 91");
    s.resize(132, 43);
    await s.typeUntil("stty size\n", "43 132");
    s.send("exit 6\n");
    expect(await s.exit).toBe(6);
    s.end();
  });

  it("ktl exec -it from a terminal, and Ctrl-D (end of input) ends the shell", async () => {
    const prompt = /[#$] $/m;
    const r = await ktlOnTerminal(
      server(),
      ["exec", "-it", "shell", "--", "sh"],
      [
        { after: prompt, send: "echo sum-$((40+2))\n" },
        // Ctrl-D on a raw terminal is a byte for the remote terminal, whose shell reads it as EOF.
        { after: /sum-42\r*\n[\s\S]*[#$] $/, send: "\x04" },
      ],
    );
    expect(r.output).toContain("sum-42");
    expect(r.code).toBe(0);
  });
});
