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
  /** The distinct field names used, so a server can reject unsupported ones. */
  fieldNames(): string[];
  matches(fields: Readonly<Record<string, string>>): boolean;
  toString(): string;
}

/** Splits on commas not escaped by a backslash, keeping the escapes for unescapeValue(). */
function splitTerms(s: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "\\") i++;
    else if (s[i] === ",") {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

/** fields.UnescapeValue: only `\\`, `\,` and `\=` are escapes; anything else is an error. */
function unescapeValue(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== "\\") {
      if (c === "," || c === "=")
        throw errors.badRequest(`invalid field selector: unescaped ${c} in value: ${JSON.stringify(s)}`);
      out += c;
      continue;
    }
    const next = s[i + 1];
    if (next !== "\\" && next !== "," && next !== "=")
      throw errors.badRequest(
        `invalid field selector: invalid escape sequence: \\${next ?? ""} in value: ${JSON.stringify(s)}`,
      );
    out += next;
    i++;
  }
  return out;
}

const escapeValue = (v: string) => v.replace(/[\\,=]/g, (c) => `\\${c}`);

/**
 * Parses field selectors as apimachinery's fields.ParseSelector does: `=`, `==`, `!=`, comma
 * meaning AND, and backslash escapes for `\`, `,` and `=` inside values.
 */
export function parseFieldSelector(text: string | undefined): FieldSelector {
  const s = (text ?? "").trim();
  const reqs: FieldRequirement[] = [];
  if (s) {
    for (const part of splitTerms(s)) {
      let opAt = -1;
      let op = "";
      for (let i = 0; i < part.length && opAt < 0; i++) {
        if (part[i] === "\\") {
          i++;
          continue;
        }
        for (const candidate of ["!=", "==", "="]) {
          if (part.startsWith(candidate, i)) {
            opAt = i;
            op = candidate;
            break;
          }
        }
      }
      const name = opAt > 0 ? part.slice(0, opAt).trim() : "";
      if (!name) throw errors.badRequest(`invalid selector: '${s}'; can't understand '${part}'`);
      reqs.push({
        field: name,
        operator: op === "!=" ? "!=" : "=",
        value: unescapeValue(part.slice(opAt + op.length).trim()),
      });
    }
  }
  return {
    requirements: reqs,
    empty: () => reqs.length === 0,
    fieldNames: () => [...new Set(reqs.map((r) => r.field))],
    matches: (fields) => reqs.every((r) => ((fields[r.field] ?? "") === r.value) === (r.operator === "=")),
    toString: () => reqs.map((r) => `${r.field}${r.operator}${escapeValue(r.value)}`).join(","),
  };
}
