import { type FieldError, field, isQualifiedName, isValidLabelValue } from "@tskube/machinery";
import type { LabelSelector } from "../gen/tskube/v1/meta.js";
import { validateLabels } from "./meta.js";

/** metav1validation.ValidateLabelSelector: label keys/values and well-formed requirements. */
export function validateLabelSelector(s: LabelSelector | undefined, path: string): FieldError[] {
  if (!s) return [];
  const errs = validateLabels(s.matchLabels, `${path}.matchLabels`);
  s.matchExpressions.forEach((r, i) => {
    const p = `${path}.matchExpressions[${i}]`;
    switch (r.operator) {
      case "In":
      case "NotIn":
        if (r.values.length === 0)
          errs.push(field.required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case "Exists":
      case "DoesNotExist":
        if (r.values.length > 0)
          errs.push(
            field.forbidden(
              `${p}.values`,
              "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ),
          );
        break;
      default:
        errs.push(field.invalid(`${p}.operator`, r.operator, "not a valid selector operator"));
    }
    for (const e of isQualifiedName(r.key)) errs.push(field.invalid(`${p}.key`, r.key, e));
    r.values.forEach((v, j) => {
      for (const e of isValidLabelValue(v)) errs.push(field.invalid(`${p}.values[${j}]`, v, e));
    });
  });
  return errs;
}
