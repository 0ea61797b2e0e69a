import type { FieldError } from "@tskube/machinery";
import type { KubeObject } from "../kinds.js";

/**
 * Per-kind API behaviour: Kubernetes' RESTCreateStrategy, RESTUpdateStrategy,
 * RESTGracefulDeleteStrategy and the per-kind store options (ShouldDeleteDuringUpdate), plus
 * defaulting. The generic registry calls these and nothing kind-specific of its own.
 */
export interface Strategy<T extends KubeObject> {
  /** Kubernetes defaulting, in place (SetDefaults_*). Idempotent. */
  applyDefaults(obj: T): void;
  /** Validation on create (metadata included). */
  validate(obj: T): FieldError[];
  /** Validation on update: everything validate checks plus immutable fields. */
  validateUpdate(obj: T, old: T): FieldError[];
  /** Validation of an UpdateStatus write (new status; spec was already reset to old). */
  validateStatusUpdate(obj: T, old: T): FieldError[];
  /** Values for field selectors besides metadata.name / metadata.namespace. */
  selectableFields(obj: T): Record<string, string>;
  /**
   * PrepareForCreate: clears what a client may not set (status, for kinds whose status is written
   * through UpdateStatus) and sets server-owned fields. After defaulting, before admission and
   * validation.
   */
  prepareForCreate(obj: T): void;
  /**
   * PrepareForUpdate of a spec write, after the registry has carried over server-owned metadata
   * and before it carries over status; folds write-only fields.
   */
  prepareForUpdate(obj: T, old: T): void;
  /**
   * CheckGracefulDelete: the grace period a delete gets given the requested one; 0 removes the
   * object at once when no finalizer holds it.
   */
  gracePeriod(obj: T, requested: number | undefined): number;
  /** What marking an object for deletion changes beyond its metadata (a Namespace's phase). */
  markTerminating(obj: T): void;
  /**
   * True while the object must stay in storage although its metadata finalizers are gone (the
   * negation of Kubernetes' ShouldDeleteDuringUpdate: a Namespace waits for spec.finalizers).
   */
  blocksRemoval(obj: T): boolean;
}
