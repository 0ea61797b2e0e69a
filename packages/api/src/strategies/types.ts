import type { FieldError } from "@tskube/machinery";
import type { KubeObject } from "../kinds.js";

/** Per-kind API behaviour (Kubernetes' RESTCreateStrategy/RESTUpdateStrategy + defaulting). */
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
}
