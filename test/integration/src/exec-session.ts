import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExecStreamRequest, type ExecStreamResponse } from "@tskube/api";
import type { Client } from "@tskube/client";
import { REPO_ROOT, waitFor } from "./harness.js";

/**
 * An interactive exec driven through the API (ExecStream via the apiserver), for tests that need
 * what ktl cannot give from a pipe: a TTY and resizes.
 */
export function openExec(
  client: Client,
  start: {
    name: string;
    container?: string;
    command: string[];
    tty: boolean;
    width?: number;
    height?: number;
  },
) {
  const stream = client.execStream();
  let output = "";
  let stderr = "";
  const exit = new Promise<number>((resolve, reject) => {
    let code = -1;
    stream.on("data", (m: ExecStreamResponse) => {
      output += Buffer.from(m.stdout).toString();
      stderr += Buffer.from(m.stderr).toString();
      if (m.exitCode !== undefined) code = m.exitCode;
    });
    stream.on("end", () => resolve(code));
    stream.on("error", reject);
  });
  stream.write(
    ExecStreamRequest.fromPartial({
      start: {
        namespace: "default",
        name: start.name,
        container: start.container ?? "",
        command: start.command,
        stdin: true,
        tty: start.tty,
        ...(start.width ? { size: { width: start.width, height: start.height ?? 0 } } : {}),
      },
    }),
  );
  return {
    output: () => output,
    stderr: () => stderr,
    send: (text: string) => stream.write(ExecStreamRequest.fromPartial({ stdin: Buffer.from(text) })),
    resize: (width: number, height: number) =>
      stream.write(ExecStreamRequest.fromPartial({ resize: { width, height } })),
    closeStdin: () => stream.write(ExecStreamRequest.fromPartial({ closeStdin: true })),
    end: () => stream.end(),
    exit,
    /** Types `line` until the output contains `want` (a resize lands asynchronously). */
    async typeUntil(line: string, want: string, timeoutMs = 20_000) {
      await waitFor(
        `${JSON.stringify(want)} in the output (got ${JSON.stringify(output.slice(-200))})`,
        async () => {
          if (output.includes(want)) return true;
          stream.write(ExecStreamRequest.fromPartial({ stdin: Buffer.from(line) }));
          await new Promise((r) => setTimeout(r, 200));
          return output.includes(want);
        },
        timeoutMs,
      );
    },
  };
}

/** A terminal control sequence (ESC [ … letter). */
const CSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, "g");

/**
 * Runs ktl with a terminal for its stdin and stdout (util-linux `script` allocates the pty), as a
 * user at a shell runs `ktl exec -it`; script -e passes ktl's exit code on. Each step waits until
 * the output contains `after` (so ktl has put its terminal in raw mode, as a user sees a prompt
 * before typing), then types `send`.
 */
export async function ktlOnTerminal(
  server: string,
  args: string[],
  steps: { after: string | RegExp; send: string }[] = [],
): Promise<{ code: number | null; output: string }> {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  // node --import tsx, not the tsx CLI: its wrapper process shares the terminal and mangles input.
  const cmd = [process.execPath, "--import", "tsx", join(REPO_ROOT, "apps/ktl/src/main.ts"), ...args]
    .map(quote)
    .join(" ");
  // A terminal has a size (script's pty starts at 0x0 without one around it); busybox's line
  // editing asks the terminal for its cursor position when it has none.
  const proc = spawn("script", ["-qfec", `stty cols 80 rows 24; exec ${cmd}`, "/dev/null"], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      SHELL: "/bin/sh",
      TSKUBE_SERVER: server,
      HOME: mkdtempSync(join(tmpdir(), "tskube-home-")),
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  proc.stdout.on("data", (d) => {
    output += d;
  });
  proc.stderr.on("data", (d) => {
    output += d;
  });
  let exited = false;
  const code = new Promise<number | null>((r) =>
    proc.once("exit", (c) => {
      exited = true;
      r(c);
    }),
  );
  try {
    for (const step of steps) {
      await waitFor(
        `${String(step.after)} from ktl`,
        async () => {
          // What a user sees: without the terminal's control sequences (busybox asks for the cursor).
          const seen = output.replace(CSI, "");
          const ok = typeof step.after === "string" ? seen.includes(step.after) : step.after.test(seen);
          // waitFor gives up at once on an error that says "exited".
          if (!ok && exited) throw new Error(`ktl exited before ${String(step.after)}`);
          return ok;
        },
        30_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; ktl's terminal showed ${JSON.stringify(output)}`);
      });
      proc.stdin.write(step.send);
    }
    return { code: await code, output };
  } finally {
    proc.stdin.end();
    proc.kill();
  }
}
