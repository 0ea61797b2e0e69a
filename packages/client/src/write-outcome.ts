import { isDeepStrictEqual } from "node:util";
import type { Any, KindInfo, KubeObject } from "@tskube/api";
import { type ApiError, isAlreadyExists, isConflict, isNotFound } from "@tskube/machinery";
import { AmbiguousWriteError } from "./errors.js";

/**
 * What the client may do with a call whose answer was lost after it may have reached an apiserver.
 * Reads are "idempotent": sent again anywhere. A write names itself for the error it may end in,
 * and may carry a judge that reads the object to settle the outcome.
 */
export type CallPolicy<Res> = "idempotent" | WritePolicy<Res>;

export interface WritePolicy<Res> {
  /** `create configmaps with generateName "web-" in namespace "default"`, for the error message. */
  what: string;
  details: { kind: string; name: string; group: string };
  judge?: Judge<Res>;
}

/**
 * Called after an attempt was lost (no rejection) and again when a later attempt is rejected (a
 * Conflict may be the lost attempt's own doing). "resend" after a rejection means the rejection
 * stands.
 */
export type Judge<Res> = (rejection?: ApiError) => Promise<Judgement<Res>>;

export type Judgement<Res> =
  | { outcome: "applied"; response: Res }
  | { outcome: "resend" }
  | { outcome: "unknown"; why: string };

/** Reads the object now (a consistent read: the apiserver's get goes to etcd); undefined if absent. */
export type ReadCurrent = () => Promise<Any | undefined>;

/** Reads the object through `read`, turning NotFound into undefined. */
export async function readOrAbsent(read: () => Promise<Any | undefined>): Promise<Any | undefined> {
  try {
    return await read();
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** "configmaps", "deployments.apps": how Kubernetes names a resource in messages. */
const qualified = (kind: KindInfo) => (kind.group ? `${kind.resource}.${kind.group}` : kind.resource);

/** `update deployments.apps "web" in namespace "default"`. */
export function describeWrite(verb: string, kind: KindInfo, name: string, namespace: string): string {
  return `${verb} ${qualified(kind)} "${name}"${kind.namespaced ? ` in namespace "${namespace}"` : ""}`;
}

/** `delete collection of pods in namespace "default"`. */
export function describeCollectionWrite(verb: string, kind: KindInfo, namespace: string): string {
  return `${verb} collection of ${qualified(kind)}${kind.namespaced && namespace ? ` in namespace "${namespace}"` : ""}`;
}

export function describeCreate(kind: KindInfo, obj: KubeObject, namespace: string): string {
  const meta = obj.metadata;
  if (meta?.name) return describeWrite("create", kind, meta.name, namespace);
  return `create ${qualified(kind)} with generateName "${meta?.generateName ?? ""}"${kind.namespaced ? ` in namespace "${namespace}"` : ""}`;
}

/**
 * The error a lost write ends in. `why` is what re-reading the object found; without it the write
 * had no judge and was not sent again.
 */
export function ambiguousWrite(
  policy: WritePolicy<unknown>,
  lost: unknown,
  why?: string,
): AmbiguousWriteError {
  const cause = (lost as { details?: string; message?: string }).details || (lost as Error).message;
  const tail = why ?? "it was not sent again, as repeating it could apply it twice";
  return new AmbiguousWriteError(
    `${policy.what}: the request may or may not have been applied (${cause}); ${tail}`,
    policy.details,
  );
}

/**
 * Whether the stored object holds what was sent: the fields a writer sets (spec and the rest of
 * the body but apiVersion and kind, labels, annotations, owners, finalizers; or the status alone
 * for a status write),
 * compared in their JSON form, where unset and default read alike. The apiserver may add defaults
 * to what was sent; then the two differ and the outcome stays unknown, the safe side.
 */
export function holdsWhatWasSent<T extends KubeObject>(
  kind: KindInfo<T>,
  sent: T,
  stored: T,
  part: "object" | "status",
): boolean {
  const json = (o: T) => kind.messageType.toJSON(o as never) as Record<string, unknown>;
  const a = json(sent);
  const b = json(stored);
  if (part === "status") return isDeepStrictEqual(a.status, b.status);
  const writable = (o: Record<string, unknown>) => {
    // apiVersion and kind are the server's to fill in.
    const { metadata, status: _status, apiVersion: _v, kind: _k, ...body } = o;
    const m = (metadata ?? {}) as Record<string, unknown>;
    return {
      body,
      labels: m.labels,
      annotations: m.annotations,
      ownerReferences: m.ownerReferences,
      finalizers: m.finalizers,
    };
  };
  return isDeepStrictEqual(writable(a), writable(b));
}

export interface JudgeContext<T extends KubeObject> {
  kind: KindInfo<T>;
  decode(any: Any): T;
  read: ReadCurrent;
}

/**
 * A create with a name: the name makes a second attempt harmless (AlreadyExists at worst), so a
 * lost attempt is sent again; an AlreadyExists then is our own lost attempt when the stored object
 * holds what was sent. A create with generateName has no judge: nothing ties a stored object to it.
 */
export function judgeNamedCreate<T extends KubeObject, Res>(
  ctx: JudgeContext<T>,
  sent: T,
  wrap: (stored: Any) => Res,
): Judge<Res> {
  return async (rejection) => {
    if (!rejection) return { outcome: "resend" };
    if (!isAlreadyExists(rejection)) return { outcome: "resend" };
    const current = await ctx.read();
    if (!current) return { outcome: "unknown", why: "an object of that name existed and was deleted since" };
    if (holdsWhatWasSent(ctx.kind, sent, ctx.decode(current), "object"))
      return { outcome: "applied", response: wrap(current) };
    return { outcome: "unknown", why: "an object of that name exists but differs from what was sent" };
  };
}

/**
 * An update (or status update) with a resourceVersion precondition is a compare-and-swap, so it is
 * applied at most once however often it is sent; what a lost attempt leaves unknown is only whether
 * to report success. Re-reading the object: still at the precondition's version → it was not
 * applied, send it again; moved on and holding what was sent → it was applied (ours, or someone
 * wrote the same); moved on and different → unknown.
 *
 * Kubernetes' client-go does not judge: it surfaces the transport error, and a caller that resends
 * gets a Conflict. Neither a Conflict nor a resend is right here: a caller that answers a Conflict
 * by re-reading and re-applying its change (retry-on-conflict around "add one") would apply it a
 * second time when the lost attempt had in fact landed. So a Conflict after a lost attempt is judged
 * again, and whatever cannot be settled is the ambiguous error, never a Conflict.
 */
export function judgePreconditionedUpdate<T extends KubeObject, Res>(
  ctx: JudgeContext<T>,
  sent: T,
  part: "object" | "status",
  wrap: (stored: Any) => Res,
): Judge<Res> {
  const precondition = sent.metadata?.resourceVersion ?? "";
  return async (rejection) => {
    const current = await ctx.read();
    if (!current) return { outcome: "unknown", why: "the object has been deleted since" };
    const stored = ctx.decode(current);
    const rv = stored.metadata?.resourceVersion ?? "";
    if (rv === precondition) {
      if (!rejection) return { outcome: "resend" };
      if (isConflict(rejection))
        return { outcome: "unknown", why: `the object is at resourceVersion ${rv} but was refused` };
      return { outcome: "resend" };
    }
    if (holdsWhatWasSent(ctx.kind, sent, stored, part))
      return { outcome: "applied", response: wrap(current) };
    return {
      outcome: "unknown",
      why: `the object has changed since (resourceVersion ${precondition} → ${rv}) and differs from what was sent`,
    };
  };
}

/**
 * A delete with a uid or resourceVersion precondition can only remove the object it names, so a
 * lost attempt is sent again. Its NotFound stands (as Kubernetes answers a repeated delete: the
 * object is gone); a Conflict is our own lost attempt when the object is the same one and now has
 * a deletionTimestamp (a delete that waits for finalizers or a grace period), since nothing else
 * sets one.
 */
export function judgePreconditionedDelete<T extends KubeObject, Res>(
  ctx: JudgeContext<T>,
  uid: string | undefined,
  wrap: (stored: Any) => Res,
): Judge<Res> {
  return async (rejection) => {
    if (!rejection || !isConflict(rejection)) return { outcome: "resend" };
    const current = await ctx.read();
    if (!current) return { outcome: "resend" };
    const meta = ctx.decode(current).metadata;
    if (meta?.deletionTimestamp && (!uid || meta.uid === uid))
      return { outcome: "applied", response: wrap(current) };
    return { outcome: "resend" };
  };
}
