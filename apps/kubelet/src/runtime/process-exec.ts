import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import type { TerminalSize } from "./types.js";

/**
 * Resizes the pty util-linux `script` gave a command (the process runtime's TTY: no pty library is
 * installed). Setting a terminal's size from outside is what a terminal emulator does: the kernel
 * sends the command SIGWINCH. The terminal is reached as the command's own stdin through /proc, so
 * this works whatever mount namespace allocated the pty; a command already gone is no error.
 */
export function resizeScriptPty(scriptPid: number | undefined, size: TerminalSize): void {
  if (!scriptPid || size.width <= 0 || size.height <= 0) return;
  let child: string | undefined;
  try {
    child = readFileSync(`/proc/${scriptPid}/task/${scriptPid}/children`, "utf8").trim().split(/\s+/)[0];
  } catch {
    return;
  }
  if (!child) return;
  execFile(
    "stty",
    ["-F", `/proc/${child}/fd/0`, "cols", String(size.width), "rows", String(size.height)],
    () => {
      // the command exited meanwhile
    },
  );
}
