import type { KindInfo, KubeObject } from "@tskube/api";

/** The contract of the typed client (implemented in ./client.ts). */

export interface ListOptions {
  /** Omit (or "") for all namespaces; ignored for cluster-scoped kinds. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  /** "" = consistent read from etcd; "0" = whatever the apiserver's watch cache holds. */
  resourceVersion?: string;
  signal?: AbortSignal;
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
  continue: string;
  remainingItemCount?: number;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Events after this revision; "" or "0" starts with the current state as ADDED events. */
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  /** Ends the stream (the iterator then returns normally). */
  signal?: AbortSignal;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK";

export interface WatchEvent<T> {
  type: WatchEventType;
  /** For BOOKMARK only metadata.resourceVersion is set. */
  object: T;
}

export type PropagationPolicy = "Orphan" | "Background" | "Foreground";

export interface DeleteOptions {
  namespace?: string;
  gracePeriodSeconds?: number;
  propagationPolicy?: PropagationPolicy;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
}

export type PatchType = "merge" | "json" | "strategic";

export interface PatchOptions extends WriteOptions {
  namespace?: string;
  /** merge = RFC 7386 JSON merge patch (default); json = RFC 6902; strategic = Kubernetes' SMP. */
  type?: PatchType;
  /** Patch the status subresource. */
  status?: boolean;
}

/**
 * Verbs for one kind. Namespaced writes take the namespace from the object's metadata.namespace
 * (default "default"); reads take it from the options. Errors are ApiError from @tskube/machinery.
 */
export interface ResourceClient<T extends KubeObject> {
  readonly kind: KindInfo<T>;
  create(obj: T, opts?: WriteOptions): Promise<T>;
  get(name: string, opts?: { namespace?: string; signal?: AbortSignal }): Promise<T>;
  list(opts?: ListOptions): Promise<ListResult<T>>;
  /** Follows `continue` tokens until the list is complete (pages of opts.limit, default 500). */
  listAll(opts?: ListOptions): Promise<ListResult<T>>;
  update(obj: T, opts?: WriteOptions): Promise<T>;
  updateStatus(obj: T): Promise<T>;
  /** The patch is a JSON string or a value that is JSON-encoded. */
  patch(name: string, patch: string | object, opts?: PatchOptions): Promise<T>;
  delete(name: string, opts?: DeleteOptions): Promise<{ object: T; deleted: boolean }>;
  deleteCollection(opts?: ListOptions & DeleteOptions): Promise<T[]>;
  /** Throws ApiError with reason Expired when the revision was compacted. */
  watch(opts?: WatchOptions): AsyncIterable<WatchEvent<T>>;
}

export interface ClientOptions {
  /** One or more apiserver gRPC addresses ("host:port"); calls fail over between them. */
  servers: readonly string[];
  /** Deadline of one unary call (default 30 s). */
  timeoutMs?: number;
  /**
   * How long a call or watch waits for a connection to an apiserver before trying the next one
   * (default 5 s, at most timeoutMs).
   */
  connectTimeoutMs?: number;
  /** Retries of a call that failed with UNAVAILABLE (another server is tried; default 5). */
  retries?: number;
  /** Identifies the caller in fieldManager defaults and logs. */
  userAgent?: string;
}
