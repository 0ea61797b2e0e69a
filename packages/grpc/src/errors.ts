import { status as GrpcStatus, Metadata, type ServiceError } from "@grpc/grpc-js";
import { Status } from "@tskube/api";
import type { Logger } from "@tskube/log";
import { ApiError, errors } from "@tskube/machinery";

/** Turns any error into the gRPC status clients see, with the Kubernetes Status in a trailer. */
export function toServiceError(err: unknown, log: Logger): Partial<ServiceError> {
  let api: ApiError;
  if (err instanceof ApiError) api = err;
  else if ((err as { name?: string })?.name === "TooOldError")
    api = errors.resourceExpired((err as Error).message);
  else {
    log.error({ err }, "internal error serving request");
    api = errors.internal((err as Error)?.message ?? String(err));
  }
  const metadata = new Metadata();
  metadata.set(
    "tskube-status-bin",
    Buffer.from(
      Status.encode(
        Status.fromPartial({
          apiVersion: "v1",
          kind: "Status",
          status: "Failure",
          message: api.message,
          reason: api.reason,
          code: api.httpCode,
          details: {
            name: api.details.name ?? "",
            kind: api.details.kind ?? "",
            group: api.details.group ?? "",
            causes: api.causes.map((c) => ({ reason: c.reason, message: c.message, field: c.field })),
          },
        }),
      ).finish(),
    ),
  );
  return { code: api.code, details: api.message, metadata };
}

export { GrpcStatus };
