import { status as GrpcStatus, type Metadata, type ServiceError } from "@grpc/grpc-js";
import { Status } from "@tskube/api";
import { UnaryCallError } from "@tskube/grpc/unary-channel";
import { ApiError, type StatusReason } from "@tskube/machinery";

const REASON_BY_CODE: Partial<Record<GrpcStatus, StatusReason>> = {
  [GrpcStatus.NOT_FOUND]: "NotFound",
  [GrpcStatus.ALREADY_EXISTS]: "AlreadyExists",
  [GrpcStatus.ABORTED]: "Conflict",
  [GrpcStatus.INVALID_ARGUMENT]: "BadRequest",
  [GrpcStatus.PERMISSION_DENIED]: "Forbidden",
  [GrpcStatus.OUT_OF_RANGE]: "Expired",
  [GrpcStatus.RESOURCE_EXHAUSTED]: "RequestEntityTooLarge",
  [GrpcStatus.UNIMPLEMENTED]: "MethodNotAllowed",
  [GrpcStatus.UNAVAILABLE]: "ServiceUnavailable",
  [GrpcStatus.DEADLINE_EXCEEDED]: "Timeout",
  [GrpcStatus.INTERNAL]: "InternalError",
};

function statusFrom(metadata: Metadata | undefined): Status | undefined {
  const raw = metadata?.get("tskube-status-bin")[0];
  if (!raw || typeof raw === "string") return undefined;
  try {
    return Status.decode(raw);
  } catch {
    return undefined;
  }
}

/**
 * Turns a gRPC error into the ApiError the apiserver raised: the Status in the
 * `tskube-status-bin` trailer carries reason and causes; without it the code decides the reason.
 */
export function fromServiceError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const se = err as Partial<ServiceError>;
  const code = (se.code ?? GrpcStatus.UNKNOWN) as GrpcStatus;
  const st = statusFrom(se.metadata);
  if (st?.reason) {
    return new ApiError(
      code,
      st.reason as StatusReason,
      st.message,
      (st.details?.causes ?? []).map((c) => ({ reason: c.reason, message: c.message, field: c.field })),
      { kind: st.details?.kind, name: st.details?.name, group: st.details?.group },
    );
  }
  const message = se.details || se.message || String(err);
  // Callers' own cancellations never get here (they see their signal's reason), so a cancelled
  // call is the server going away mid-call: a force-shutdown apiserver resets its streams.
  if (code === GrpcStatus.CANCELLED)
    return new ApiError(GrpcStatus.UNAVAILABLE, "ServiceUnavailable", `the apiserver went away: ${message}`);
  return new ApiError(code, REASON_BY_CODE[code] ?? "Unknown", message);
}

/**
 * Failures of the connection rather than answers of the server: the apiserver was not reached or
 * went away (callers check their own abort first, so CANCELLED here came from the server side). A
 * read failing so is tried on another apiserver; a write only when neverProcessed also holds.
 */
export function isRetriable(err: unknown): boolean {
  const code = (err as Partial<ServiceError>).code;
  return code === GrpcStatus.UNAVAILABLE || code === GrpcStatus.CANCELLED;
}

/**
 * The apiserver provably never processed the call (no connection, the stream never opened, a
 * REFUSED_STREAM or a GOAWAY below it: see UnaryCallError), so even a write may be sent again.
 */
export function neverProcessed(err: unknown): boolean {
  return err instanceof UnaryCallError && err.notSent;
}

/**
 * A write whose answer was lost after it may have reached an apiserver (the connection reset under
 * it): it may or may not have been applied. The client does not send such a write again unless it
 * can judge the outcome from the object itself (see write-outcome.ts), because a second attempt can
 * apply it twice: a create with generateName makes a second object. ServiceUnavailable, like any
 * lost connection, so callers back off and re-read as they do for one; `ambiguous` tells it from a
 * call that never reached a server.
 */
export class AmbiguousWriteError extends ApiError {
  readonly ambiguous = true;

  constructor(message: string, details: { kind?: string; name?: string; group?: string }) {
    super(GrpcStatus.UNAVAILABLE, "ServiceUnavailable", message, [], details);
    this.name = "AmbiguousWriteError";
  }
}

/** The write may or may not have been applied (its answer was lost). */
export const isAmbiguousWrite = (err: unknown): err is AmbiguousWriteError =>
  err instanceof ApiError && (err as Partial<AmbiguousWriteError>).ambiguous === true;
