import { randomUUID } from "node:crypto";
import {
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
  decodeObject,
  encodeObject,
  type KindDefinition,
  type KindInfo,
  type KubeObject,
  ObjectMeta,
  type Strategy,
} from "@tskube/api";
import { errors, field, type GroupResource } from "@tskube/machinery";
import type { AdmitFunc } from "./admission.js";
import { buildSelection, type Selection } from "./selection.js";
import type { Cacher } from "./storage/cacher.js";
import type { EtcdStore, RawValue } from "./storage/etcd-store.js";
import { CompactedError } from "./storage/etcd-store.js";
import { decodeValue, encodeValue, keyFor, prefixFor } from "./storage/keys.js";

/** Called when the write a Begin hook prepared for is done, with whether it was written. */
export type FinishFunc = (success: boolean) => Promise<void>;

/**
 * What a kind's storage does beyond its strategy (Kubernetes' BeginCreate/BeginUpdate/AfterDelete
 * decorators): Services allocate ClusterIPs and node ports here. Begin hooks run after validation,
 * just before the etcd write, and may throw an API error.
 */
export interface StorageHooks {
  beginCreate?(obj: KubeObject): Promise<FinishFunc>;
  /** Before validation of an update: carry over server-set fields the update left out. */
  prepareUpdate?(next: KubeObject, current: KubeObject): void;
  beginUpdate?(next: KubeObject, current: KubeObject): Promise<FinishFunc>;
  /** After the object has left storage. */
  afterDelete?(obj: KubeObject): Promise<void>;
}

export interface RegistryOptions {
  store: EtcdStore;
  hooks?: StorageHooks | undefined;
  cacher: Cacher;
  /** The namespaces registry, to refuse objects in missing or terminating namespaces. */
  namespaces: () => Registry;
  /** Largest encoded object accepted (etcd's default request limit is 1.5 MiB). */
  maxObjectBytes: number;
  /** Mutating admission on create, after defaulting and before validation. */
  admit?: AdmitFunc;
  /** Objects expire this long after their last write, through an etcd lease (Events: --event-ttl). */
  ttlSeconds?: number | undefined;
  now?: () => Date;
}

export interface ListRequest {
  namespace: string;
  labelSelector: string;
  fieldSelector: string;
  limit: number;
  continue: string;
  resourceVersion: string;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
  continue: string;
  remainingItemCount: number | undefined;
}

export interface DeleteRequestOptions {
  gracePeriodSeconds?: number | undefined;
  propagationPolicy?: string;
  preconditions?: { uid?: string | undefined; resourceVersion?: string | undefined } | undefined;
  dryRun?: boolean;
}

export type PatchKind = "merge" | "json" | "strategic";

const GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
const GENERATE_NAME_ATTEMPTS = 8;
const MAX_UPDATE_ATTEMPTS = 16;

/** RFC 3339 to the second, as Kubernetes writes metav1.Time. */
/** The last second formatted: every write in one second carries the same timestamp. */
let formatted = { second: Number.NaN, text: "" };

/** A time as Kubernetes writes metav1.Time: RFC 3339 in UTC, whole seconds. */
export function rfc3339(d: Date): string {
  const second = Math.floor(d.getTime() / 1000);
  if (second !== formatted.second)
    formatted = { second, text: new Date(second * 1000).toISOString().replace(".000Z", "Z") };
  return formatted.text;
}

interface ContinueToken {
  rv: number;
  start: string;
}

function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 1, ...t })).toString("base64url");
}

function decodeContinue(s: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(s, "base64url").toString()) as { v: number; rv: number; start: string };
    if (t.v !== 1 || typeof t.rv !== "number" || typeof t.start !== "string") throw new Error("bad token");
    return { rv: t.rv, start: t.start };
  } catch {
    throw errors.badRequest("continue key is not valid: invalid continue token");
  }
}

function parseResourceVersion(rv: string, what = "resourceVersion"): number {
  if (rv === "") return 0;
  const n = Number(rv);
  if (!Number.isSafeInteger(n) || n < 0) throw errors.badRequest(`invalid ${what}: ${JSON.stringify(rv)}`);
  return n;
}

const specOf = (o: KubeObject): unknown => (o as unknown as { spec?: unknown }).spec;

/**
 * The generic registry (Kubernetes' genericregistry.Store): one per kind, turning API verbs into
 * guarded etcd transactions and applying the kind's strategy (defaults, validation, status split,
 * generation). Nothing here is specific to a kind: what differs per kind is in its declaration
 * (KindDefinition's identity and Strategy hooks) or in the StorageHooks it is given.
 */
export class Registry {
  readonly gr: GroupResource;
  readonly strategy: Strategy<KubeObject>;
  private readonly supportedFields: string[];

  constructor(
    readonly kind: KindDefinition,
    private readonly opts: RegistryOptions,
  ) {
    this.gr = { group: kind.group, resource: kind.resource, kind: kind.kind };
    this.strategy = kind.strategy;
    this.supportedFields = Object.keys(this.strategy.selectableFields(kind.messageType.create()));
  }

  get cacher(): Cacher {
    return this.opts.cacher;
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  private key(namespace: string, name: string): string {
    return keyFor(this.kind, namespace, name);
  }

  selection(labelSelector: string, fieldSelector: string): Selection {
    return buildSelection(
      labelSelector,
      fieldSelector,
      (o) => this.strategy.selectableFields(o),
      this.supportedFields,
    );
  }

  private checkSize(value: Buffer): void {
    if (value.length > this.opts.maxObjectBytes) {
      throw errors.tooLarge(
        `Request entity too large: ${this.gr.kind} is ${value.length} bytes, limit is ${this.opts.maxObjectBytes} bytes`,
      );
    }
  }

  /** Namespaced objects need a namespace that exists and is not being deleted. */
  private async checkNamespace(namespace: string, name: string): Promise<void> {
    if (!this.kind.namespaced) return;
    const nsRegistry = this.opts.namespaces();
    let ns = nsRegistry.cacher.get(keyFor(nsRegistry.kind, "", namespace));
    if (!ns) {
      const raw = await this.opts.store.get(keyFor(nsRegistry.kind, "", namespace));
      ns = raw ? decodeValue(nsRegistry.kind, raw) : undefined;
    }
    if (!ns) throw errors.notFound(nsRegistry.gr, namespace);
    if (ns.metadata?.deletionTimestamp) {
      throw errors.forbidden(
        this.gr,
        name,
        `unable to create new content in namespace ${namespace} because it is being terminated`,
      );
    }
  }

  private normalizeNamespace(obj: KubeObject, namespace: string): void {
    obj.metadata ??= ObjectMeta.create();
    const m = obj.metadata;
    if (!this.kind.namespaced) {
      m.namespace = "";
      return;
    }
    if (namespace && m.namespace && m.namespace !== namespace) {
      throw errors.badRequest(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
    m.namespace = m.namespace || namespace;
  }

  private validationFailed(obj: KubeObject, errs: ReturnType<Strategy<KubeObject>["validate"]>): void {
    if (errs.length)
      throw errors.invalid(this.gr, obj.metadata?.name || obj.metadata?.generateName || "", errs);
  }

  async create(input: KubeObject, opts: { namespace: string; dryRun?: boolean }): Promise<KubeObject> {
    return (await this.createStored(input, opts)).object;
  }

  /**
   * create, also handing back the bytes written to etcd (undefined for a dry run), so the answer
   * can be packed from them (packStored) instead of encoding the object a second time.
   */
  async createStored(
    input: KubeObject,
    opts: { namespace: string; dryRun?: boolean },
  ): Promise<{ object: KubeObject; value: Buffer | undefined }> {
    const obj = input;
    this.normalizeNamespace(obj, opts.namespace);
    const m = obj.metadata!;
    obj.apiVersion = this.kind.group ? `${this.kind.group}/${this.kind.version}` : this.kind.version;
    obj.kind = this.kind.kind;
    // Server-set fields are never taken from the client.
    m.uid = randomUUID();
    m.resourceVersion = "";
    m.creationTimestamp = rfc3339(this.now());
    m.deletionTimestamp = "";
    m.deletionGracePeriodSeconds = undefined;
    m.generation = this.kind.hasSpec ? 1 : 0;
    this.strategy.applyDefaults(obj);
    this.strategy.prepareForCreate(obj);
    this.opts.admit?.(obj, this.kind);
    const generated = !m.name && !!m.generateName;
    if (generated) m.name = `${m.generateName}${randomSuffix()}`;
    this.validationFailed(obj, this.strategy.validate(obj));
    await this.checkNamespace(m.namespace, m.name);
    if (opts.dryRun) {
      this.checkSize(encodeValue(this.kind, obj));
      return { object: obj, value: undefined };
    }
    const finish = await this.opts.hooks?.beginCreate?.(obj);
    let written = false;
    try {
      for (let attempt = 0; ; attempt++) {
        const value = encodeValue(this.kind, obj);
        this.checkSize(value);
        const rev = await this.opts.store.create(this.key(m.namespace, m.name), value, {
          ttlSeconds: this.opts.ttlSeconds,
        });
        if (rev !== undefined) {
          m.resourceVersion = String(rev);
          written = true;
          return { object: obj, value };
        }
        if (!generated || attempt + 1 >= GENERATE_NAME_ATTEMPTS) throw errors.alreadyExists(this.gr, m.name);
        m.name = `${m.generateName}${randomSuffix()}`;
      }
    } finally {
      await finish?.(written);
    }
  }

  async get(namespace: string, name: string): Promise<KubeObject> {
    const raw = await this.opts.store.get(this.key(namespace, name));
    if (!raw) throw errors.notFound(this.gr, name);
    return decodeValue(this.kind, raw);
  }

  async list(req: ListRequest): Promise<ListResult> {
    const sel = this.selection(req.labelSelector, req.fieldSelector);
    // A field selector on metadata.namespace narrows the key range like the request namespace does.
    const namespace = req.namespace;
    if (req.resourceVersion === "0" && !req.continue) {
      await this.opts.cacher.waitReady();
      const { items, rv } = this.opts.cacher.list({
        namespace,
        matches: (o) => sel.matches(o),
        everything: sel.everything,
      });
      return { items, resourceVersion: String(rv), continue: "", remainingItemCount: undefined };
    }
    const prefix = prefixFor(this.kind, namespace);
    let revision = 0;
    let startKey: string | undefined;
    if (req.continue) {
      const t = decodeContinue(req.continue);
      revision = t.rv;
      startKey = t.start;
      if (!startKey.startsWith(prefix))
        throw errors.badRequest("continue key is not valid: key is outside the list");
    } else if (req.resourceVersion) {
      revision = parseResourceVersion(req.resourceVersion);
    }
    const limit = Math.max(req.limit, 0);
    const items: KubeObject[] = [];
    let lastKey = "";
    let more = false;
    let count = 0;
    try {
      for (;;) {
        const pageSize = limit ? Math.max(limit - items.length, sel.everything ? 0 : 100) : 0;
        const page = await this.opts.store.range(prefix, { startKey, limit: pageSize, revision });
        if (!revision) revision = page.revision;
        if (count === 0) count = page.count;
        more = page.more;
        let stoppedEarly = false;
        for (const raw of page.kvs) {
          const obj = decodeValue(this.kind, raw);
          lastKey = raw.key;
          if (sel.matches(obj)) items.push(obj);
          if (limit && items.length >= limit) {
            stoppedEarly = raw !== page.kvs[page.kvs.length - 1];
            break;
          }
        }
        more = more || stoppedEarly;
        if (!more || (limit && items.length >= limit) || page.kvs.length === 0) break;
        startKey = `${lastKey}\0`;
      }
    } catch (err) {
      if (err instanceof CompactedError && req.continue) {
        throw errors.resourceExpired(
          "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
        );
      }
      if (err instanceof CompactedError)
        throw errors.resourceExpired(`too old resource version: ${revision}`);
      throw err;
    }
    const continueToken = more && limit ? encodeContinue({ rv: revision, start: `${lastKey}\0` }) : "";
    let remaining: number | undefined;
    if (continueToken && sel.everything) {
      // etcd counted the keys from this page's start to the end of the range.
      remaining = Math.max(0, count - items.length);
    }
    return {
      items,
      resourceVersion: String(revision),
      continue: continueToken,
      remainingItemCount: remaining,
    };
  }

  /**
   * Read-modify-write with retries on write races (Kubernetes' GuaranteedUpdate). tryUpdate returns
   * the new object, or undefined when nothing needs writing. A caller-supplied resourceVersion turns
   * a race into a Conflict instead of a retry.
   *
   * It starts from the watch cache's copy, as Kubernetes' Cacher.GuaranteedUpdate hands its cached
   * object down: the write is guarded on that copy's mod_revision, and a failed compare reads the
   * current value in the same transaction, so an update is one etcd round trip whether the cache
   * was current or not. Whatever was judged on a copy that may be stale (a resourceVersion that
   * does not match, a refusal from tryUpdate, nothing to write, a dry run) is judged again on a
   * fresh read before it is answered.
   */
  private async guaranteedUpdate(
    namespace: string,
    name: string,
    expectedRv: string,
    tryUpdate: (
      current: KubeObject,
      raw: RawValue,
    ) => KubeObject | undefined | Promise<KubeObject | undefined>,
    opts: { dryRun?: boolean } = {},
  ): Promise<{ object: KubeObject; deleted: boolean }> {
    const key = this.key(namespace, name);
    let raw = this.opts.cacher.getRaw(key);
    /** raw was read from etcd (a get or a failed transaction), not taken from the cache. */
    let isCurrent = false;
    const refresh = async () => {
      raw = await this.opts.store.get(key);
      isCurrent = true;
    };
    const conflict = () =>
      errors.conflict(
        this.gr,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
      );
    if (!raw) await refresh();
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      if (!raw) throw errors.notFound(this.gr, name);
      const state: RawValue = raw;
      if (expectedRv && String(state.modRevision) !== expectedRv) {
        if (isCurrent) throw conflict();
        // The cache may be behind the version the client holds: etcd decides.
        await refresh();
        continue;
      }
      const current = decodeValue(this.kind, state);
      let next: KubeObject | undefined;
      try {
        next = await tryUpdate(decodeValue(this.kind, state), state);
      } catch (err) {
        if (isCurrent) throw err;
        await refresh();
        // The copy was current after all: the refusal stands.
        if (raw && (raw as RawValue).modRevision === state.modRevision) throw err;
        continue;
      }
      const value = next ? encodeValue(this.kind, next) : undefined;
      if (value) this.checkSize(value);
      if (!next || !value || value.equals(state.value) || opts.dryRun) {
        if (!isCurrent) {
          await refresh();
          continue;
        }
        if (!next || !value || value.equals(state.value)) return { object: current, deleted: false };
        return { object: next, deleted: false };
      }
      // An object being deleted whose last finalizer is gone (and whose grace period is over) leaves storage.
      const m = next.metadata!;
      const leaving =
        !!m.deletionTimestamp &&
        m.finalizers.length === 0 &&
        !this.strategy.blocksRemoval(next) &&
        !m.deletionGracePeriodSeconds;
      const finish = leaving ? undefined : await this.opts.hooks?.beginUpdate?.(next, current);
      let written = false;
      try {
        const out = leaving
          ? await this.opts.store.deleteOrRead(key, state.modRevision)
          : await this.opts.store.updateOrRead(key, value, state.modRevision, {
              ttlSeconds: this.opts.ttlSeconds,
            });
        if (out.revision !== undefined) {
          m.resourceVersion = String(out.revision);
          written = !leaving;
          if (leaving) await this.opts.hooks?.afterDelete?.(next);
          return { object: next, deleted: leaving };
        }
        // Someone wrote first: go again from the value the transaction read.
        raw = out.current;
        isCurrent = true;
      } finally {
        await finish?.(written);
      }
    }
    throw errors.conflict(this.gr, name, "too many concurrent writes; please try again");
  }

  async update(input: KubeObject, opts: { namespace: string; dryRun?: boolean }): Promise<KubeObject> {
    this.normalizeNamespace(input, opts.namespace);
    const m = input.metadata!;
    if (!m.name) throw errors.invalid(this.gr, "", [field.required("metadata.name", "name is required")]);
    const result = await this.guaranteedUpdate(
      m.namespace,
      m.name,
      m.resourceVersion,
      (current) => {
        const next = this.kind.messageType.decode(
          this.kind.messageType.encode(input as never).finish(),
        ) as KubeObject;
        // Defaults first, so a spec that only lacks defaulted fields is not a change.
        this.strategy.applyDefaults(next);
        this.prepareForUpdate(next, current);
        this.validationFailed(next, this.strategy.validateUpdate(next, current));
        return next;
      },
      opts,
    );
    return result.object;
  }

  /** Keeps what a spec write may not change (Kubernetes' PrepareForUpdate + BeforeUpdate). */
  private prepareForUpdate(next: KubeObject, current: KubeObject): void {
    this.opts.hooks?.prepareUpdate?.(next, current);
    const nm = next.metadata!;
    const cm = current.metadata!;
    next.apiVersion = current.apiVersion;
    next.kind = current.kind;
    nm.uid = cm.uid;
    nm.creationTimestamp = cm.creationTimestamp;
    nm.deletionTimestamp = cm.deletionTimestamp;
    nm.deletionGracePeriodSeconds = cm.deletionGracePeriodSeconds;
    nm.generateName = cm.generateName;
    nm.resourceVersion = cm.resourceVersion;
    this.strategy.prepareForUpdate(next, current);
    if (this.kind.hasStatus) {
      (next as unknown as { status?: unknown }).status = (current as unknown as { status?: unknown }).status;
    }
    nm.generation = cm.generation;
    if (this.kind.hasSpec && !sameSpec(this.kind, next, current)) nm.generation = cm.generation + 1;
    // A terminating object may lose finalizers but gain none (Kubernetes forbids adding them).
    if (cm.deletionTimestamp) nm.finalizers = nm.finalizers.filter((f) => cm.finalizers.includes(f));
  }

  /**
   * A server-side change of one object (subresources such as pods/binding): mutate gets the
   * current object and returns it changed, or throws; races are retried like any update.
   */
  async mutate(
    namespace: string,
    name: string,
    mutate: (current: KubeObject) => KubeObject,
  ): Promise<KubeObject> {
    const result = await this.guaranteedUpdate(this.kind.namespaced ? namespace : "", name, "", (current) =>
      mutate(current),
    );
    return result.object;
  }

  async updateStatus(input: KubeObject, opts: { namespace: string }): Promise<KubeObject> {
    if (!this.kind.hasStatus) throw errors.methodNotSupported(this.gr, "update status");
    this.normalizeNamespace(input, opts.namespace);
    const m = input.metadata!;
    const result = await this.guaranteedUpdate(m.namespace, m.name, m.resourceVersion, (current) => {
      const next = this.kind.messageType.decode(
        this.kind.messageType.encode(current as never).finish(),
      ) as KubeObject;
      (next as unknown as { status?: unknown }).status = (input as unknown as { status?: unknown }).status;
      this.validationFailed(next, this.strategy.validateStatusUpdate(next, current));
      return next;
    });
    return result.object;
  }

  async patch(
    namespace: string,
    name: string,
    kind: PatchKind,
    patchText: string,
    opts: { status?: boolean; dryRun?: boolean },
  ): Promise<KubeObject> {
    let patch: unknown;
    try {
      patch = JSON.parse(patchText);
    } catch (err) {
      throw errors.badRequest(`the patch is not valid JSON: ${(err as Error).message}`);
    }
    if (opts.status && !this.kind.hasStatus) throw errors.methodNotSupported(this.gr, "patch status");
    const result = await this.guaranteedUpdate(
      this.kind.namespaced ? namespace : "",
      name,
      "",
      (current) => {
        const json = encodeObject(current);
        let patched: unknown;
        if (kind === "json") patched = applyJsonPatch(json, patch);
        else if (kind === "strategic") patched = applyStrategicMergePatch(json, patch);
        else patched = applyMergePatch(json, patch);
        const { object: next } = decodeObject(patched);
        if (next.$type !== current.$type)
          throw errors.badRequest("a patch may not change the kind of an object");
        const nm = next.metadata!;
        const cm = current.metadata!;
        // A resourceVersion in the patch is a precondition; otherwise patches apply to the latest.
        if (nm.resourceVersion && nm.resourceVersion !== cm.resourceVersion) {
          throw errors.conflict(
            this.gr,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
          );
        }
        if (nm.name !== cm.name || (this.kind.namespaced && nm.namespace !== cm.namespace)) {
          throw errors.badRequest("metadata.name and metadata.namespace may not be changed by a patch");
        }
        if (opts.status) {
          const out = this.kind.messageType.decode(
            this.kind.messageType.encode(current as never).finish(),
          ) as KubeObject;
          (out as unknown as { status?: unknown }).status = (next as unknown as { status?: unknown }).status;
          this.validationFailed(out, this.strategy.validateStatusUpdate(out, current));
          return out;
        }
        // Defaults first, so a spec that only lacks defaulted fields is not a change.
        this.strategy.applyDefaults(next);
        this.prepareForUpdate(next, current);
        this.validationFailed(next, this.strategy.validateUpdate(next, current));
        return next;
      },
      opts,
    );
    return result.object;
  }

  async delete(
    namespace: string,
    name: string,
    options: DeleteRequestOptions,
  ): Promise<{ object: KubeObject; deleted: boolean }> {
    const pre = options.preconditions;
    const key = this.key(namespace, name);
    // As guaranteedUpdate: from the watch cache's copy, the write guarded on its mod_revision and a
    // failed compare reading the current value; an answer that writes nothing (a failed
    // precondition, already terminating, a dry run) is only given from a value read from etcd.
    let raw = this.opts.cacher.getRaw(key);
    let isCurrent = false;
    const refresh = async () => {
      raw = await this.opts.store.get(key);
      isCurrent = true;
    };
    if (!raw) await refresh();
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      if (!raw) throw errors.notFound(this.gr, name);
      const state: RawValue = raw;
      const obj = decodeValue(this.kind, state);
      const m = obj.metadata!;
      const preconditionFails =
        (pre?.uid && pre.uid !== m.uid) ||
        (pre?.resourceVersion && pre.resourceVersion !== m.resourceVersion);
      if (preconditionFails && !isCurrent) {
        await refresh();
        continue;
      }
      if (pre?.uid && pre.uid !== m.uid) {
        throw errors.conflict(
          this.gr,
          name,
          `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${m.uid}`,
        );
      }
      if (pre?.resourceVersion && pre.resourceVersion !== m.resourceVersion) {
        throw errors.conflict(
          this.gr,
          name,
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${m.resourceVersion}`,
        );
      }
      const grace = this.strategy.gracePeriod(obj, options.gracePeriodSeconds);
      const finalizers = new Set(m.finalizers);
      if (options.propagationPolicy === "Orphan") finalizers.add("orphan");
      if (options.propagationPolicy === "Foreground") finalizers.add("foregroundDeletion");
      if (grace === 0 && finalizers.size === 0 && !this.strategy.blocksRemoval(obj)) {
        if (options.dryRun && !isCurrent) {
          await refresh();
          continue;
        }
        if (options.dryRun) return { object: obj, deleted: true };
        const out = await this.opts.store.deleteOrRead(key, state.modRevision);
        if (out.revision === undefined) {
          raw = out.current;
          isCurrent = true;
          continue;
        }
        m.resourceVersion = String(out.revision);
        await this.opts.hooks?.afterDelete?.(obj);
        return { object: obj, deleted: true };
      }
      // Graceful: mark the object; its kubelet, finalizers or the namespace controller finish it.
      if (
        m.deletionTimestamp &&
        (m.deletionGracePeriodSeconds ?? 0) <= grace &&
        sameSet(finalizers, m.finalizers)
      ) {
        if (!isCurrent) {
          await refresh();
          continue;
        }
        return { object: obj, deleted: false };
      }
      const now = this.now();
      if (!m.deletionTimestamp || grace < (m.deletionGracePeriodSeconds ?? 0)) {
        m.deletionTimestamp = rfc3339(new Date(now.getTime() + grace * 1000));
        m.deletionGracePeriodSeconds = grace;
      }
      m.finalizers = [...finalizers];
      this.strategy.markTerminating(obj);
      if (options.dryRun && !isCurrent) {
        await refresh();
        continue;
      }
      if (options.dryRun) return { object: obj, deleted: false };
      const out = await this.opts.store.updateOrRead(key, encodeValue(this.kind, obj), state.modRevision, {
        ttlSeconds: this.opts.ttlSeconds,
      });
      if (out.revision === undefined) {
        raw = out.current;
        isCurrent = true;
        continue;
      }
      m.resourceVersion = String(out.revision);
      return { object: obj, deleted: false };
    }
    throw errors.conflict(this.gr, name, "too many concurrent writes; please try again");
  }

  async deleteCollection(req: ListRequest, options: DeleteRequestOptions): Promise<KubeObject[]> {
    const { items } = await this.list({ ...req, limit: 0, continue: "", resourceVersion: "" });
    const out: KubeObject[] = [];
    for (const item of items) {
      try {
        const r = await this.delete(item.metadata!.namespace, item.metadata!.name, options);
        out.push(r.object);
      } catch (err) {
        if ((err as { reason?: string }).reason !== "NotFound") throw err;
      }
    }
    return out;
  }
}

function randomSuffix(): string {
  let s = "";
  for (let i = 0; i < 5; i++)
    s += GENERATE_NAME_ALPHABET[Math.floor(Math.random() * GENERATE_NAME_ALPHABET.length)];
  return s;
}

function sameSet(a: Set<string>, b: readonly string[]): boolean {
  return a.size === b.length && b.every((x) => a.has(x));
}

function sameSpec(kind: KindInfo, a: KubeObject, b: KubeObject): boolean {
  const sa = specOf(a);
  const sb = specOf(b);
  if (sa === undefined || sb === undefined) return sa === sb;
  const probe = kind.messageType.fromPartial({});
  (probe as unknown as { spec: unknown }).spec = sa;
  const ea = Buffer.from(kind.messageType.encode(probe as never).finish());
  (probe as unknown as { spec: unknown }).spec = sb;
  const eb = Buffer.from(kind.messageType.encode(probe as never).finish());
  return ea.equals(eb);
}
