import {
  FieldError,
  field,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
} from "@tskube/machinery";
import type { LabelSelector, ObjectMeta, OwnerReference } from "../gen/tskube/v1/meta.js";

/** Checks a name; `prefix` is true for generateName, whose trailing '-' is allowed. */
export type NameValidator = (name: string, prefix?: boolean) => string[];

/** apimachinery's maskTrailingDash: a generateName may end in '-' since a suffix follows. */
const prefixed =
  (check: (s: string) => string[]): NameValidator =>
  (name, prefix = false) =>
    check(prefix && name.length > 1 && name.endsWith("-") ? `${name.slice(0, -1)}a` : name);

export const dns1123Subdomain: NameValidator = prefixed(isDNS1123Subdomain);
export const dns1123Label: NameValidator = prefixed(isDNS1123Label);
export const dns1035Label: NameValidator = prefixed(isDNS1035Label);

const TOTAL_ANNOTATION_BYTES = 256 * 1024;
const STANDARD_FINALIZERS = ["kubernetes", "orphan", "foregroundDeletion"];

export const byteLength = (s: string): number => Buffer.byteLength(s, "utf8");

/**
 * An Invalid error whose value prints as Go's %#v would (map[string]string{"app":"x"}), where
 * Kubernetes prints a structured value; errors.ts would print it as JSON.
 */
class GoValueFieldError extends FieldError {
  constructor(
    path: string,
    private readonly printed: string,
    detail: string,
  ) {
    super("Invalid", path, detail, printed, true);
  }

  override toString(): string {
    return `${this.field}: Invalid value: ${this.printed}: ${this.detail}`;
  }
}

export const invalidGoValue = (path: string, printed: string, detail: string): FieldError =>
  new GoValueFieldError(path, printed, detail);

/** Go's %#v of a map[string]string: keys sorted, `"k":"v"` pairs joined by ", ". */
export function goStringMap(m: Readonly<Record<string, string>>): string {
  const pairs = Object.keys(m)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(m[k])}`);
  return `map[string]string{${pairs.join(", ")}}`;
}

/** Go's %#v of a *metav1.LabelSelector, as Kubernetes prints it in immutability errors. */
export function goLabelSelector(s: LabelSelector | undefined): string {
  if (!s) return "(*v1.LabelSelector)(nil)";
  const labels = Object.keys(s.matchLabels).length ? goStringMap(s.matchLabels) : "map[string]string(nil)";
  const exprs = s.matchExpressions.length
    ? `[]v1.LabelSelectorRequirement{${s.matchExpressions
        .map(
          (e) =>
            `v1.LabelSelectorRequirement{Key:${JSON.stringify(e.key)}, Operator:${JSON.stringify(e.operator)}, Values:[]string{${e.values.map((v) => JSON.stringify(v)).join(", ")}}}`,
        )
        .join(", ")}}`
    : "[]v1.LabelSelectorRequirement(nil)";
  return `&v1.LabelSelector{MatchLabels:${labels}, MatchExpressions:${exprs}}`;
}

export function validateLabels(labels: Record<string, string> | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    for (const e of isQualifiedName(k)) errs.push(field.invalid(path, k, e));
    for (const e of isValidLabelValue(v)) errs.push(field.invalid(path, v, e));
  }
  return errs;
}

/** Annotation keys are qualified names (case-insensitively); keys and values share a 256 KiB budget. */
export function validateAnnotations(
  annotations: Record<string, string> | undefined,
  path: string,
): FieldError[] {
  const errs: FieldError[] = [];
  let size = 0;
  for (const [k, v] of Object.entries(annotations ?? {})) {
    for (const e of isQualifiedName(k.toLowerCase())) errs.push(field.invalid(path, k, e));
    size += byteLength(k) + byteLength(v);
  }
  if (size > TOTAL_ANNOTATION_BYTES) errs.push(field.tooLong(path, TOTAL_ANNOTATION_BYTES));
  return errs;
}

function validateOwnerReferences(refs: readonly OwnerReference[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  const controllers: string[] = [];
  refs.forEach((r, i) => {
    const p = `${path}[${i}]`;
    // apiVersion is "group/version" or "version"; the version part must be there.
    const version = r.apiVersion.includes("/")
      ? r.apiVersion.slice(r.apiVersion.indexOf("/") + 1)
      : r.apiVersion;
    if (!version) errs.push(field.invalid(`${p}.apiVersion`, r.apiVersion, "version must not be empty"));
    if (!r.kind) errs.push(field.invalid(`${p}.kind`, r.kind, "kind must not be empty"));
    if (!r.name) errs.push(field.invalid(`${p}.name`, r.name, "name must not be empty"));
    if (!r.uid) errs.push(field.invalid(`${p}.uid`, r.uid, "uid must not be empty"));
    if (r.controller) controllers.push(`${r.kind}/${r.name}`);
  });
  if (controllers.length > 1) {
    errs.push(
      invalidGoValue(
        path,
        `[${refs.length} owner references]`,
        `Only one reference can have Controller set to true. Found "true" in references for ${controllers.join(" and ")}`,
      ),
    );
  }
  return errs;
}

function validateFinalizers(finalizers: readonly string[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  finalizers.forEach((f, i) => {
    const p = `${path}[${i}]`;
    const msgs = isQualifiedName(f);
    for (const e of msgs) errs.push(field.invalid(p, f, e));
    if (!msgs.length && !f.includes("/") && !STANDARD_FINALIZERS.includes(f)) {
      errs.push(field.invalid(p, f, "name is neither a standard finalizer name nor is it fully qualified"));
    }
    if (seen.has(f)) errs.push(field.duplicate(p, f));
    seen.add(f);
  });
  return errs;
}

/**
 * ValidateObjectMeta: name (or generateName), namespace presence, labels, annotations, owners and
 * finalizers. `nameValidator` is the kind's name rule (DNS-1123 subdomain unless the kind says).
 */
export function validateObjectMeta(
  meta: ObjectMeta | undefined,
  namespaced: boolean,
  nameValidator: NameValidator = dns1123Subdomain,
): FieldError[] {
  const errs: FieldError[] = [];
  if (!meta) return [field.required("metadata", "")];
  if (meta.generateName) {
    for (const e of nameValidator(meta.generateName, true))
      errs.push(field.invalid("metadata.generateName", meta.generateName, e));
  }
  if (!meta.name) {
    errs.push(field.required("metadata.name", "name or generateName is required"));
  } else {
    for (const e of nameValidator(meta.name)) errs.push(field.invalid("metadata.name", meta.name, e));
  }
  if (namespaced) {
    if (!meta.namespace) errs.push(field.required("metadata.namespace", ""));
    else
      for (const e of isDNS1123Label(meta.namespace))
        errs.push(field.invalid("metadata.namespace", meta.namespace, e));
  } else if (meta.namespace) {
    errs.push(field.forbidden("metadata.namespace", "not allowed on this type"));
  }
  errs.push(...validateLabels(meta.labels, "metadata.labels"));
  errs.push(...validateAnnotations(meta.annotations, "metadata.annotations"));
  errs.push(...validateOwnerReferences(meta.ownerReferences, "metadata.ownerReferences"));
  errs.push(...validateFinalizers(meta.finalizers, "metadata.finalizers"));
  return errs;
}

/** Labels and annotations of a pod template (ValidatePodTemplateSpec's metadata part). */
export function validateTemplateMeta(meta: ObjectMeta | undefined, path: string): FieldError[] {
  return [
    ...validateLabels(meta?.labels, `${path}.labels`),
    ...validateAnnotations(meta?.annotations, `${path}.annotations`),
  ];
}

/** Fields no update may change (ValidateObjectMetaUpdate). */
export function validateObjectMetaUpdate(
  meta: ObjectMeta | undefined,
  old: ObjectMeta | undefined,
): FieldError[] {
  const errs: FieldError[] = [];
  if (!meta || !old) return errs;
  const immutable = [
    ["metadata.name", meta.name, old.name],
    ["metadata.namespace", meta.namespace, old.namespace],
    ["metadata.uid", meta.uid, old.uid],
    ["metadata.creationTimestamp", meta.creationTimestamp, old.creationTimestamp],
  ] as const;
  for (const [path, now, before] of immutable) {
    if (now !== before) errs.push(field.invalid(path, now, "field is immutable"));
  }
  return errs;
}

/** ValidateImmutableField for scalar values. */
export function immutableField<V extends string | number | boolean | undefined>(
  now: V,
  before: V,
  path: string,
): FieldError[] {
  return now === before ? [] : [field.invalid(path, now, "field is immutable")];
}
