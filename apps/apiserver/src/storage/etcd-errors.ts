import { status as GrpcStatus, type Metadata } from "@grpc/grpc-js";
import type { UnaryCallError } from "@tskube/grpc";

/**
 * The etcd server errors the apiserver tells apart, as etcd defines them (api/v3rpc/rpctypes,
 * error.go): a gRPC code plus etcd's fixed description. Two errors may share a code (compacted and
 * future revision are both OUT_OF_RANGE), so the pair names the error, as clientv3's
 * rpctypes.Error does; nothing else in the apiserver reads an etcd message.
 */
const ETCD_ERRORS = {
  compacted: [GrpcStatus.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"],
  futureRevision: [GrpcStatus.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision"],
  noSpace: [GrpcStatus.RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded"],
  requestTooLarge: [GrpcStatus.INVALID_ARGUMENT, "etcdserver: request is too large"],
  tooManyRequests: [GrpcStatus.RESOURCE_EXHAUSTED, "etcdserver: too many requests"],
  leaseNotFound: [GrpcStatus.NOT_FOUND, "etcdserver: requested lease not found"],
  leaseTtlTooLarge: [GrpcStatus.OUT_OF_RANGE, "etcdserver: too large lease TTL"],
  noLeader: [GrpcStatus.UNAVAILABLE, "etcdserver: no leader"],
  leaderChanged: [GrpcStatus.UNAVAILABLE, "etcdserver: leader changed"],
  stopped: [GrpcStatus.UNAVAILABLE, "etcdserver: server stopped"],
  timeout: [GrpcStatus.UNAVAILABLE, "etcdserver: request timed out"],
  permissionDenied: [GrpcStatus.PERMISSION_DENIED, "etcdserver: permission denied"],
} as const satisfies Record<string, readonly [GrpcStatus, string]>;

export type EtcdErrorName = keyof typeof ETCD_ERRORS;

const BY_CODE_AND_DESCRIPTION = new Map<string, EtcdErrorName>(
  Object.entries(ETCD_ERRORS).map(([name, [code, desc]]) => [`${code}\0${desc}`, name as EtcdErrorName]),
);

/** A failed etcd call: its gRPC status, and which etcd error it is when etcd named one. */
export class EtcdError extends Error {
  constructor(
    readonly code: GrpcStatus,
    readonly details: string,
    /** etcd's error, when the status is one of those above. */
    readonly etcd: EtcdErrorName | undefined,
    /** The request never left this process (no connection). */
    readonly notSent: boolean,
    readonly metadata?: Metadata,
  ) {
    super(`etcd: ${GrpcStatus[code]}: ${details}`);
    this.name = "EtcdError";
  }

  static from(err: UnaryCallError): EtcdError {
    return new EtcdError(
      err.code,
      err.details,
      BY_CODE_AND_DESCRIPTION.get(`${err.code}\0${err.details}`),
      err.notSent,
      err.metadata,
    );
  }

  /** From a stream's trailers (Watch), which carry the same statuses. */
  static ofStatus(code: GrpcStatus, details: string): EtcdError {
    return new EtcdError(code, details, BY_CODE_AND_DESCRIPTION.get(`${code}\0${details}`), false);
  }
}

export const isEtcdError = (err: unknown, name: EtcdErrorName): boolean =>
  err instanceof EtcdError && err.etcd === name;
