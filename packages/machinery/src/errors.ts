import { status as GrpcStatus } from "@grpc/grpc-js";

/** Kubernetes StatusReason values (metav1.StatusReason) that tskube uses. */
export type StatusReason =
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Invalid"
  | "BadRequest"
  | "Forbidden"
  | "Gone"
  | "Expired"
  | "RequestEntityTooLarge"
  | "MethodNotAllowed"
  | "ServiceUnavailable"
  | "Timeout"
  | "InternalError"
  | "Unknown";

/** Field error types with the words Kubernetes prints for them (field.ErrorType). */
export type FieldErrorType =
  | "Required"
  | "Invalid"
  | "Unsupported"
  | "Duplicate"
  | "Forbidden"
  | "TooLong"
  | "TooMany"
  | "NotFound"
  | "Internal";

const FIELD_ERROR_WORDS: Record<FieldErrorType, string> = {
  Required: "Required value",
  Invalid: "Invalid value",
  Unsupported: "Unsupported value",
  Duplicate: "Duplicate value",
  Forbidden: "Forbidden",
  TooLong: "Too long",
  TooMany: "Too many",
  NotFound: "Not found",
  Internal: "Internal error",
};

/** One problem at one field path, printed as Kubernetes prints field.Error. */
export class FieldError {
  constructor(
    readonly type: FieldErrorType,
    readonly field: string,
    readonly detail: string,
    readonly value?: unknown,
    readonly hasValue = value !== undefined,
  ) {}

  toString(): string {
    const words = FIELD_ERROR_WORDS[this.type];
    const parts = [`${this.field}: ${words}`];
    if (
      this.hasValue &&
      (this.type === "Invalid" || this.type === "Unsupported" || this.type === "Duplicate")
    ) {
      parts[0] += `: ${formatValue(this.value)}`;
    }
    return this.detail ? `${parts[0]}: ${this.detail}` : parts[0]!;
  }
}

function formatValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || v === undefined) return "null";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Builders mirroring k8s.io/apimachinery/pkg/util/validation/field. */
export const field = {
  required: (path: string, detail = "") => new FieldError("Required", path, detail),
  invalid: (path: string, value: unknown, detail: string) =>
    new FieldError("Invalid", path, detail, value, true),
  notSupported: (path: string, value: unknown, supported: readonly string[]) =>
    new FieldError(
      "Unsupported",
      path,
      supported.length ? `supported values: ${supported.map((s) => JSON.stringify(s)).join(", ")}` : "",
      value,
      true,
    ),
  duplicate: (path: string, value: unknown) => new FieldError("Duplicate", path, "", value, true),
  forbidden: (path: string, detail: string) => new FieldError("Forbidden", path, detail),
  tooLong: (path: string, max: number) => new FieldError("TooLong", path, `must have at most ${max} bytes`),
  tooMany: (path: string, actual: number, max: number) =>
    new FieldError("TooMany", path, `must have at most ${max} items (got ${actual})`),
  notFound: (path: string, value: unknown) => new FieldError("NotFound", path, "", value, true),
};

export interface StatusCauseJson {
  reason: string;
  message: string;
  field: string;
}

/**
 * An API error: a gRPC status code plus a Kubernetes reason and message. The apiserver throws these;
 * clients get them back from the wire (see fromServiceError in @tskube/client).
 */
export class ApiError extends Error {
  constructor(
    readonly code: GrpcStatus,
    readonly reason: StatusReason,
    message: string,
    readonly causes: readonly StatusCauseJson[] = [],
    readonly details: { kind?: string; name?: string; group?: string; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The HTTP status Kubernetes would answer with (kept for the HTTP facade and printing). */
  get httpCode(): number {
    return HTTP_CODES[this.reason];
  }
}

const HTTP_CODES: Record<StatusReason, number> = {
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Invalid: 422,
  BadRequest: 400,
  Forbidden: 403,
  Gone: 410,
  Expired: 410,
  RequestEntityTooLarge: 413,
  MethodNotAllowed: 405,
  ServiceUnavailable: 503,
  Timeout: 504,
  InternalError: 500,
  Unknown: 500,
};

/** "pods", "deployments.apps": how Kubernetes names a resource in error messages. */
export interface GroupResource {
  group: string;
  resource: string;
  kind: string;
}

function qualified(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

function qualifiedKind(gr: GroupResource): string {
  return gr.group ? `${gr.kind}.${gr.group}` : gr.kind;
}

export const errors = {
  notFound: (gr: GroupResource, name: string) =>
    new ApiError(GrpcStatus.NOT_FOUND, "NotFound", `${qualified(gr)} "${name}" not found`, [], {
      kind: gr.resource,
      name,
    }),
  alreadyExists: (gr: GroupResource, name: string) =>
    new ApiError(
      GrpcStatus.ALREADY_EXISTS,
      "AlreadyExists",
      `${qualified(gr)} "${name}" already exists`,
      [],
      {
        kind: gr.resource,
        name,
      },
    ),
  conflict: (gr: GroupResource, name: string, why: string) =>
    new ApiError(
      GrpcStatus.ABORTED,
      "Conflict",
      `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${why}`,
      [],
      { kind: gr.resource, name },
    ),
  invalid: (gr: GroupResource, name: string, errs: readonly FieldError[]) => {
    const list = errs.map((e) => e.toString());
    const body = list.length === 1 ? list[0] : `[${list.join(", ")}]`;
    return new ApiError(
      GrpcStatus.INVALID_ARGUMENT,
      "Invalid",
      `${qualifiedKind(gr)} "${name}" is invalid: ${body}`,
      errs.map((e) => ({ reason: `Field${e.type}`, message: e.toString(), field: e.field })),
      { kind: gr.kind, name },
    );
  },
  badRequest: (message: string) => new ApiError(GrpcStatus.INVALID_ARGUMENT, "BadRequest", message),
  forbidden: (gr: GroupResource, name: string, why: string) =>
    new ApiError(
      GrpcStatus.PERMISSION_DENIED,
      "Forbidden",
      `${qualified(gr)} "${name}" is forbidden: ${why}`,
      [],
      { kind: gr.resource, name },
    ),
  /** The watch or list revision was compacted; the client must re-list. */
  resourceExpired: (message: string) => new ApiError(GrpcStatus.OUT_OF_RANGE, "Expired", message),
  tooLarge: (message: string) =>
    new ApiError(GrpcStatus.RESOURCE_EXHAUSTED, "RequestEntityTooLarge", message),
  methodNotSupported: (gr: GroupResource, verb: string) =>
    new ApiError(
      GrpcStatus.UNIMPLEMENTED,
      "MethodNotAllowed",
      `the server does not allow this method on the requested resource (${verb} ${qualified(gr)})`,
    ),
  serviceUnavailable: (message: string) =>
    new ApiError(GrpcStatus.UNAVAILABLE, "ServiceUnavailable", message),
  timeout: (message: string) => new ApiError(GrpcStatus.DEADLINE_EXCEEDED, "Timeout", message),
  internal: (message: string) =>
    new ApiError(GrpcStatus.INTERNAL, "InternalError", `Internal error occurred: ${message}`),
};

const reasonOf = (e: unknown): StatusReason | undefined => (e instanceof ApiError ? e.reason : undefined);
export const isNotFound = (e: unknown) => reasonOf(e) === "NotFound";
export const isAlreadyExists = (e: unknown) => reasonOf(e) === "AlreadyExists";
export const isConflict = (e: unknown) => reasonOf(e) === "Conflict";
export const isInvalid = (e: unknown) => reasonOf(e) === "Invalid";
export const isResourceExpired = (e: unknown) => reasonOf(e) === "Expired" || reasonOf(e) === "Gone";
export const isForbidden = (e: unknown) => reasonOf(e) === "Forbidden";
export const isServiceUnavailable = (e: unknown) => reasonOf(e) === "ServiceUnavailable";
