import { status as GrpcStatus, type Metadata, type ServiceError } from "@grpc/grpc-js";
import { Status } from "@tskube/api";
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
 * Errors worth trying on another apiserver: the server was not reached or went away (callers check
 * their own abort first, so CANCELLED here came from the server side).
 */
export function isRetriable(err: unknown): boolean {
  const code = (err as Partial<ServiceError>).code;
  return code === GrpcStatus.UNAVAILABLE || code === GrpcStatus.CANCELLED;
}
