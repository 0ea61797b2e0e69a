import { isAmbiguousWrite } from "@tskube/client";
import { ApiError } from "@tskube/machinery";

/** A usage or client-side error, printed as kubectl prints them: `error: ...`. */
export class UsageError extends Error {}

/** kubectl's wording: `Error from server (NotFound): pods "x" not found`. */
export function describeError(err: unknown, context?: string, local = false): string {
  if (err instanceof ApiError && local) return `error: ${context ? `${context}: ` : ""}${err.message}`;
  if (err instanceof ApiError) {
    // The server was reached and went away mid-write: "refused" would wrongly say nothing happened.
    if (isAmbiguousWrite(err)) return `error: ${err.message}`;
    if (err.reason === "ServiceUnavailable" || err.code === 14) {
      return `The connection to the server was refused - did you specify the right host or port? (${err.message})`;
    }
    const reason = err.reason === "Unknown" ? "" : ` (${err.reason})`;
    return `Error from server${reason}: ${context ? `${context}: ` : ""}${err.message}`;
  }
  if (err instanceof UsageError) return `error: ${err.message}`;
  return `error: ${(err as Error)?.message ?? String(err)}`;
}
