import { errors } from "./errors.js";

export type Operator = "=" | "==" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";

export interface Requirement {
  key: string;
  operator: Operator;
  values: string[];
}

/** A parsed label selector: requirements ANDed together (apimachinery's labels.Selector). */
export interface Selector {
  readonly requirements: readonly Requirement[];
  /** Matches everything (no requirements). */
  empty(): boolean;
  matches(labels: Readonly<Record<string, string>> | undefined): boolean;
  toString(): string;
}

/** The selector that matches nothing (a nil LabelSelector). */
export const NOTHING: Selector = {
  requirements: [],
  empty: () => false,
  matches: () => false,
  toString: () => "<none>",
};

function matchesRequirement(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const v = labels[r.key];
  switch (r.operator) {
    case "=":
    case "==":
    case "in":
      return has && r.values.includes(v!);
    case "!=":
    case "notin":
      return !has || !r.values.includes(v!);
    case "exists":
      return has;
    case "!":
      return !has;
    case "gt":
    case "lt": {
      if (!has || !/^-?\d+$/.test(v!)) return false;
      const n = Number(v);
      return r.operator === "gt" ? n > Number(r.values[0]) : n < Number(r.values[0]);
    }
  }
}

function requirementString(r: Requirement): string {
  switch (r.operator) {
    case "exists":
      return r.key;
    case "!":
      return `!${r.key}`;
    case "in":
    case "notin":
      return `${r.key} ${r.operator} (${[...r.values].sort().join(",")})`;
    case "gt":
      return `${r.key}>${r.values[0]}`;
    case "lt":
      return `${r.key}<${r.values[0]}`;
    default:
      return `${r.key}${r.operator === "==" ? "=" : r.operator}${r.values[0]}`;
  }
}

export function selectorFromRequirements(requirements: Requirement[]): Selector {
  const reqs = [...requirements].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return {
    requirements: reqs,
    empty: () => reqs.length === 0,
    matches: (labels) => reqs.every((r) => matchesRequirement(r, labels ?? {})),
    toString: () => reqs.map(requirementString).join(","),
  };
}

/** matchLabels-style equality selector. */
export function selectorFromSet(set: Readonly<Record<string, string>> | undefined): Selector {
  return selectorFromRequirements(
    Object.entries(set ?? {}).map(([key, v]) => ({ key, operator: "=", values: [v] })),
  );
}

const KEY_CHARS = /[A-Za-z0-9._\-/]/;
const VALUE_CHARS = /[A-Za-z0-9._-]/;

/**
 * Parses the selector syntax of `kubectl -l` and list requests: `a=b`, `a==b`, `a!=b`,
 * `env in (prod,qa)`, `tier notin (x)`, `key`, `!key`, comma meaning AND.
 */
export function parseSelector(text: string | undefined): Selector {
  const s = (text ?? "").trim();
  if (!s) return selectorFromRequirements([]);
  let i = 0;
  const fail = (why: string): never => {
    throw errors.badRequest(`unable to parse requirement: ${why} (in selector ${JSON.stringify(s)})`);
  };
  const ws = () => {
    while (s[i] === " " || s[i] === "\t") i++;
  };
  const word = (chars: RegExp) => {
    const start = i;
    while (i < s.length && chars.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const reqs: Requirement[] = [];
  for (;;) {
    ws();
    if (s[i] === "!") {
      i++;
      ws();
      const key = word(KEY_CHARS);
      if (!key) fail("found '!' without a key");
      reqs.push({ key, operator: "!", values: [] });
    } else {
      const key = word(KEY_CHARS);
      if (!key) fail(`expected a key at position ${i}`);
      ws();
      const rest = s.slice(i);
      if (i >= s.length || s[i] === ",") {
        reqs.push({ key, operator: "exists", values: [] });
      } else if (rest.startsWith("==") || rest.startsWith("!=") || rest.startsWith("=")) {
        const op = rest.startsWith("==") ? "==" : rest.startsWith("!=") ? "!=" : "=";
        i += op.length;
        ws();
        const value = word(VALUE_CHARS);
        reqs.push({ key, operator: op, values: [value] });
      } else if (rest.startsWith(">") || rest.startsWith("<")) {
        i++;
        ws();
        const value = word(/[0-9-]/);
        if (!/^-?\d+$/.test(value)) fail(`for 'Gt', 'Lt' operators, the value must be an integer`);
        reqs.push({ key, operator: rest[0] === ">" ? "gt" : "lt", values: [value] });
      } else {
        const op = word(/[a-z]/);
        if (op !== "in" && op !== "notin")
          fail(`found '${op || s[i]}', expected: '=', '!=', '==', 'in', notin'`);
        ws();
        if (s[i] !== "(") fail(`found '${s[i] ?? ""}', expected: '('`);
        i++;
        const values: string[] = [];
        for (;;) {
          ws();
          values.push(word(VALUE_CHARS));
          ws();
          if (s[i] === ",") {
            i++;
            continue;
          }
          if (s[i] === ")") {
            i++;
            break;
          }
          fail(`found '${s[i] ?? "end of string"}', expected: ',' or ')'`);
        }
        reqs.push({ key, operator: op as "in" | "notin", values });
      }
    }
    ws();
    if (i >= s.length) break;
    if (s[i] !== ",") fail(`found '${s[i]}', expected: ',' or end of string`);
    i++;
  }
  return selectorFromRequirements(reqs);
}

interface LabelSelectorLike {
  matchLabels?: Record<string, string>;
  matchExpressions?: readonly { key: string; operator: string; values: readonly string[] }[];
}

/**
 * metav1.LabelSelectorAsSelector: a missing selector matches nothing, an empty one everything.
 * Operators In, NotIn, Exists, DoesNotExist.
 */
export function selectorFromLabelSelector(ls: LabelSelectorLike | undefined): Selector {
  if (!ls) return NOTHING;
  const reqs: Requirement[] = Object.entries(ls.matchLabels ?? {}).map(([key, v]) => ({
    key,
    operator: "=",
    values: [v],
  }));
  for (const e of ls.matchExpressions ?? []) {
    const operator: Operator | undefined =
      e.operator === "In"
        ? "in"
        : e.operator === "NotIn"
          ? "notin"
          : e.operator === "Exists"
            ? "exists"
            : e.operator === "DoesNotExist"
              ? "!"
              : undefined;
    if (!operator)
      throw errors.badRequest(`${JSON.stringify(e.operator)} is not a valid label selector operator`);
    reqs.push({ key: e.key, operator, values: [...e.values] });
  }
  return selectorFromRequirements(reqs);
}
