import { errors } from "./errors.js";

export interface FieldRequirement {
  field: string;
  operator: "=" | "!=";
  value: string;
}

/** A parsed field selector (`metadata.name=x,spec.nodeName!=`): requirements ANDed. */
export interface FieldSelector {
  readonly requirements: readonly FieldRequirement[];
  empty(): boolean;
  fieldNames(): string[];
  matches(fields: Readonly<Record<string, string>>): boolean;
  toString(): string;
}

/** Parses field selectors as apimachinery's fields.ParseSelector does (=, ==, != ; comma = AND). */
export function parseFieldSelector(text: string | undefined): FieldSelector {
  const s = (text ?? "").trim();
  const reqs: FieldRequirement[] = [];
  if (s) {
    for (const part of s.split(",")) {
      const m = /^\s*([^=!\s]+)\s*(==|!=|=)\s*(.*?)\s*$/.exec(part);
      if (!m) throw errors.badRequest(`invalid selector: '${s}'; can't understand '${part}'`);
      reqs.push({ field: m[1]!, operator: m[2] === "!=" ? "!=" : "=", value: m[3]! });
    }
  }
  return {
    requirements: reqs,
    empty: () => reqs.length === 0,
    fieldNames: () => [...new Set(reqs.map((r) => r.field))],
    matches: (fields) => reqs.every((r) => ((fields[r.field] ?? "") === r.value) === (r.operator === "=")),
    toString: () => reqs.map((r) => `${r.field}${r.operator}${r.value}`).join(","),
  };
}
