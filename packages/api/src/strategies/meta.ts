import {
  type FieldError,
  field,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
} from "@tskube/machinery";
import type { ObjectMeta, OwnerReference } from "../gen/tskube/v1/meta.js";

export type NameValidator = (name: string) => string[];
export const dns1123Subdomain: NameValidator = isDNS1123Subdomain;
export const dns1123Label: NameValidator = isDNS1123Label;

const TOTAL_ANNOTATION_BYTES = 256 * 1024;

export function validateLabels(labels: Record<string, string> | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    for (const e of isQualifiedName(k)) errs.push(field.invalid(path, k, e));
    for (const e of isValidLabelValue(v)) errs.push(field.invalid(path, v, e));
  }
  return errs;
}

export function validateAnnotations(
  annotations: Record<string, string> | undefined,
  path: string,
): FieldError[] {
  const errs: FieldError[] = [];
  let size = 0;
  for (const [k, v] of Object.entries(annotations ?? {})) {
    for (const e of isQualifiedName(k.toLowerCase())) errs.push(field.invalid(path, k, e));
    size += k.length + v.length;
  }
  if (size > TOTAL_ANNOTATION_BYTES) errs.push(field.tooLong(path, TOTAL_ANNOTATION_BYTES));
  return errs;
}

function validateOwnerReferences(refs: readonly OwnerReference[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  let controllers = 0;
  refs.forEach((r, i) => {
    const p = `${path}[${i}]`;
    if (!r.apiVersion) errs.push(field.invalid(`${p}.apiVersion`, r.apiVersion, "version must not be empty"));
    if (!r.kind) errs.push(field.invalid(`${p}.kind`, r.kind, "kind must not be empty"));
    if (!r.name) errs.push(field.invalid(`${p}.name`, r.name, "name must not be empty"));
    if (!r.uid) errs.push(field.invalid(`${p}.uid`, r.uid, "uid must not be empty"));
    if (r.controller) controllers++;
  });
  if (controllers > 1) {
    errs.push(
      field.invalid(path, `${controllers} controllers`, "Only one reference can have Controller set to true"),
    );
  }
  return errs;
}

/** ValidateObjectMeta: name (or generateName), namespace presence, labels, annotations, owners. */
export function validateObjectMeta(
  meta: ObjectMeta | undefined,
  namespaced: boolean,
  nameValidator: NameValidator = dns1123Subdomain,
): FieldError[] {
  const errs: FieldError[] = [];
  if (!meta) return [field.required("metadata", "")];
  if (!meta.name) {
    errs.push(field.required("metadata.name", "name or generateName is required"));
  } else {
    for (const e of nameValidator(meta.name)) errs.push(field.invalid("metadata.name", meta.name, e));
  }
  if (namespaced) {
    if (!meta.namespace) errs.push(field.required("metadata.namespace", ""));
    else
      for (const e of dns1123Label(meta.namespace))
        errs.push(field.invalid("metadata.namespace", meta.namespace, e));
  } else if (meta.namespace) {
    errs.push(field.forbidden("metadata.namespace", "not allowed on this type"));
  }
  errs.push(...validateLabels(meta.labels, "metadata.labels"));
  errs.push(...validateAnnotations(meta.annotations, "metadata.annotations"));
  errs.push(...validateOwnerReferences(meta.ownerReferences, "metadata.ownerReferences"));
  return errs;
}

/** Fields no update may change (ValidateObjectMetaUpdate). */
export function validateObjectMetaUpdate(
  meta: ObjectMeta | undefined,
  old: ObjectMeta | undefined,
): FieldError[] {
  const errs: FieldError[] = [];
  if (!meta || !old) return errs;
  if (meta.name !== old.name) errs.push(field.invalid("metadata.name", meta.name, "field is immutable"));
  if (meta.namespace !== old.namespace)
    errs.push(field.invalid("metadata.namespace", meta.namespace, "field is immutable"));
  return errs;
}
