import { errors } from "./errors.js";
import { isQualifiedName, isValidLabelValue } from "./validation.js";

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

/** matchLabels-style equality selector (labels.SelectorFromSet: the set is trusted, not validated). */
export function selectorFromSet(set: Readonly<Record<string, string>> | undefined): Selector {
  return selectorFromRequirements(
    Object.entries(set ?? {}).map(([key, v]) => ({ key, operator: "=", values: [v] })),
  );
}

/** Anything but the selector syntax's own characters; NewRequirement then checks what it got. */
const IDENT_CHARS = /[^\s!(),=<>]/;

const parseError = (why: string) => errors.badRequest(`unable to parse requirement: ${why}`);
const invalid = (value: string, why: string) =>
  parseError(`<nil>: Invalid value: ${JSON.stringify(value)}: ${why}`);

/** labels.NewRequirement: a valid key, and the number and kind of values its operator needs. */
export function newRequirement(key: string, operator: Operator, values: string[]): Requirement {
  const keyErrors = isQualifiedName(key);
  if (keyErrors.length) throw invalid(key, keyErrors.join("; "));
  switch (operator) {
    case "in":
    case "notin":
      if (values.length === 0)
        throw parseError(
          "<nil>: Invalid value: \"\": for 'in', 'notin' operators, values set can't be empty",
        );
      break;
    case "=":
    case "==":
    case "!=":
      if (values.length !== 1)
        throw parseError('<nil>: Invalid value: "": exact-match compatibility requires one single value');
      break;
    case "exists":
    case "!":
      if (values.length !== 0)
        throw parseError('<nil>: Invalid value: "": values set must be empty for exists and does not exist');
      break;
    case "gt":
    case "lt":
      if (values.length !== 1)
        throw parseError(
          "<nil>: Invalid value: \"\": for 'Gt', 'Lt' operators, exactly one value is required",
        );
      if (!/^-?\d+$/.test(values[0]!))
        throw invalid(values[0]!, "for 'Gt', 'Lt' operators, the value must be an integer");
      return { key, operator, values };
  }
  for (const v of values) {
    const valueErrors = isValidLabelValue(v);
    if (valueErrors.length) throw invalid(v, valueErrors.join("; "));
  }
  return { key, operator, values };
}

/**
 * Parses the selector syntax of `kubectl -l` and list requests: `a=b`, `a==b`, `a!=b`,
 * `env in (prod,qa)`, `tier notin (x)`, `key`, `!key`, `a>1`, comma meaning AND.
 */
export function parseSelector(text: string | undefined): Selector {
  const s = (text ?? "").trim();
  if (!s) return selectorFromRequirements([]);
  let i = 0;
  const fail = (why: string): never => {
    throw parseError(why);
  };
  const ws = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  const word = () => {
    const start = i;
    while (i < s.length && IDENT_CHARS.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const found = () => (i < s.length ? s[i]! : "EOS");
  const reqs: Requirement[] = [];
  for (;;) {
    ws();
    if (s[i] === "!") {
      i++;
      ws();
      const key = word();
      if (!key) fail(`found '${found()}', expected: identifier`);
      reqs.push(newRequirement(key, "!", []));
    } else {
      const key = word();
      if (!key) fail(`found '${found()}', expected: !, identifier, or 'end of string'`);
      ws();
      const rest = s.slice(i);
      if (i >= s.length || s[i] === ",") {
        reqs.push(newRequirement(key, "exists", []));
      } else if (rest.startsWith("==") || rest.startsWith("!=") || rest.startsWith("=")) {
        const op = rest.startsWith("==") ? "==" : rest.startsWith("!=") ? "!=" : "=";
        i += op.length;
        ws();
        reqs.push(newRequirement(key, op, [word()]));
      } else if (rest.startsWith(">") || rest.startsWith("<")) {
        i++;
        ws();
        reqs.push(newRequirement(key, rest[0] === ">" ? "gt" : "lt", [word()]));
      } else {
        const op = word();
        if (op !== "in" && op !== "notin")
          fail(`found '${op || found()}', expected: in, notin, =, ==, !=, gt, lt`);
        ws();
        if (s[i] !== "(") fail(`found '${found()}', expected: '('`);
        i++;
        const values: string[] = [];
        ws();
        if (s[i] === ")") i++;
        else
          for (;;) {
            ws();
            values.push(word());
            ws();
            if (s[i] === ",") {
              i++;
              continue;
            }
            if (s[i] === ")") {
              i++;
              break;
            }
            fail(`found '${found()}', expected: ',', or ')'`);
          }
        reqs.push(newRequirement(key, op as "in" | "notin", values));
      }
    }
    ws();
    if (i >= s.length) break;
    if (s[i] !== ",") fail(`found '${found()}', expected: ',' or 'end of string'`);
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
  const reqs: Requirement[] = Object.entries(ls.matchLabels ?? {}).map(([key, v]) =>
    newRequirement(key, "=", [v]),
  );
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
    reqs.push(newRequirement(e.key, operator, [...e.values]));
  }
  return selectorFromRequirements(reqs);
}
