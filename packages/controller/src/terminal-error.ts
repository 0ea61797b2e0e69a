/**
 * An error retrying cannot mend (controller-runtime's reconcile.TerminalError): the Controller
 * logs it, counts it in controller_runtime_terminal_reconcile_errors_total and forgets the key
 * instead of requeueing it with backoff. The key comes back only when a watched object changes.
 */
export class TerminalError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "TerminalError";
  }
}

/** Whether err is, or was caused by, a TerminalError (errors.Is through the cause chain). */
export function isTerminalError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 32; e = e.cause, depth++)
    if (e instanceof TerminalError) return true;
  return false;
}
