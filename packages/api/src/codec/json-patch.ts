import { status as GrpcStatus } from "@grpc/grpc-js";
import { ApiError, errors } from "@tskube/machinery";
import { compactJson, hasOwn, isPlainObject, jsonClone, jsonEqual, setOwn } from "./json-value.js";

/**
 * A patch that is well formed but does not apply to the object: Kubernetes answers 422 with the
 * JSON patch library's words.
 */
const doesNotApply = (message: string) => new ApiError(GrpcStatus.INVALID_ARGUMENT, "Invalid", message);

type Container = Record<string, unknown> | unknown[];

/** RFC 6901: "/a~1b/0" → ["a/b", "0"]. */
function parsePointer(pointer: string, op: Record<string, unknown>): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) {
    throw errors.badRequest(
      `invalid JSON pointer ${JSON.stringify(pointer)} in operation ${compactJson(op)}`,
    );
  }
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

const ARRAY_INDEX = /^(0|[1-9]\d*)$/;

/** The value a token names inside a container, or undefined when there is none. */
function child(container: unknown, token: string): unknown {
  if (Array.isArray(container)) return ARRAY_INDEX.test(token) ? container[Number(token)] : undefined;
  if (isPlainObject(container)) return hasOwn(container, token) ? container[token] : undefined;
  return undefined;
}

/** The container holding the last token of a path (which itself need not exist). */
function parentOf(doc: unknown, tokens: readonly string[]): Container | undefined {
  let cur: unknown = doc;
  for (const t of tokens.slice(0, -1)) {
    cur = child(cur, t);
    if (cur === undefined) return undefined;
  }
  return Array.isArray(cur) || isPlainObject(cur) ? cur : undefined;
}

function valueAt(doc: unknown, tokens: readonly string[]): unknown {
  let cur: unknown = doc;
  for (const t of tokens) {
    cur = child(cur, t);
    if (cur === undefined) return undefined;
  }
  return cur;
}

class JsonPatcher {
  constructor(public doc: unknown) {}

  add(tokens: string[], path: string, value: unknown, verb = "add"): void {
    if (tokens.length === 0) {
      this.doc = value;
      return;
    }
    const parent = parentOf(this.doc, tokens);
    const key = tokens[tokens.length - 1]!;
    if (!parent) throw doesNotApply(`${verb} operation does not apply: doc is missing path: "${path}"`);
    if (Array.isArray(parent)) {
      const i = key === "-" ? parent.length : ARRAY_INDEX.test(key) ? Number(key) : Number.NaN;
      if (!(i <= parent.length)) {
        throw doesNotApply(`${verb} operation does not apply: index out of range in path: "${path}"`);
      }
      parent.splice(i, 0, value);
    } else setOwn(parent, key, value);
  }

  remove(tokens: string[], path: string, verb = "remove"): unknown {
    const parent = parentOf(this.doc, tokens);
    const key = tokens[tokens.length - 1];
    if (key === undefined || !parent || child(parent, key) === undefined) {
      throw doesNotApply(`${verb} operation does not apply: doc is missing path: "${path}"`);
    }
    if (Array.isArray(parent)) return parent.splice(Number(key), 1)[0];
    const old = parent[key];
    delete parent[key];
    return old;
  }
}

const OPERATIONS = new Set(["add", "remove", "replace", "move", "copy", "test"]);

function stringMember(op: Record<string, unknown>, name: "path" | "from"): string {
  const v = op[name];
  if (typeof v !== "string") throw errors.badRequest(`operation ${compactJson(op)} is missing "${name}"`);
  return v;
}

function valueMember(op: Record<string, unknown>): unknown {
  if (!hasOwn(op, "value")) throw errors.badRequest(`operation ${compactJson(op)} is missing "value"`);
  return jsonClone(op.value);
}

/**
 * RFC 6902 JSON patch (add, remove, replace, move, copy, test) with RFC 6901 pointers. A malformed
 * patch is a BadRequest; one that does not apply (missing path, failed test) is Invalid, as
 * Kubernetes answers them. The target is not modified; the operations apply all or nothing.
 */
export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) {
    throw errors.badRequest("json patch: the patch must be a list of operations");
  }
  // The whole patch is checked before any of it applies, as Kubernetes decodes it first.
  for (const op of ops) {
    if (!isPlainObject(op) || typeof op.op !== "string" || !OPERATIONS.has(op.op)) {
      throw errors.badRequest(`json patch: unsupported operation ${compactJson(op)}`);
    }
    stringMember(op, "path");
    if (op.op === "move" || op.op === "copy") stringMember(op, "from");
    if (op.op === "add" || op.op === "replace") valueMember(op);
  }
  const p = new JsonPatcher(jsonClone(target));
  for (const op of ops as Record<string, unknown>[]) {
    const path = stringMember(op, "path");
    const tokens = parsePointer(path, op);
    switch (op.op) {
      case "add":
        p.add(tokens, path, valueMember(op));
        break;
      case "remove":
        p.remove(tokens, path);
        break;
      case "replace": {
        const value = valueMember(op);
        if (tokens.length === 0) {
          p.doc = value;
          break;
        }
        if (valueAt(p.doc, tokens) === undefined) {
          throw doesNotApply(`replace operation does not apply: doc is missing key: ${path}`);
        }
        const parent = parentOf(p.doc, tokens)!;
        const key = tokens[tokens.length - 1]!;
        if (Array.isArray(parent)) parent[Number(key)] = value;
        else setOwn(parent, key, value);
        break;
      }
      case "move": {
        const from = stringMember(op, "from");
        const fromTokens = parsePointer(from, op);
        if (fromTokens.length === 0 || (path.startsWith(`${from}/`) && path !== from)) {
          throw doesNotApply(`move operation does not apply: cannot move ${from} into its own child ${path}`);
        }
        if (valueAt(p.doc, fromTokens) === undefined) {
          throw doesNotApply(`move operation does not apply: doc is missing from path: ${from}`);
        }
        const value = p.remove(fromTokens, from, "move");
        p.add(tokens, path, value, "move");
        break;
      }
      case "copy": {
        const from = stringMember(op, "from");
        const value = valueAt(p.doc, parsePointer(from, op));
        if (value === undefined) {
          throw doesNotApply(`copy operation does not apply: doc is missing from path: "${from}"`);
        }
        p.add(tokens, path, jsonClone(value), "copy");
        break;
      }
      case "test": {
        const actual = tokens.length === 0 ? p.doc : valueAt(p.doc, tokens);
        // An absent member tests equal to null, as in Kubernetes' JSON patch library.
        if (!jsonEqual(actual ?? null, op.value ?? null)) {
          throw doesNotApply(`testing value ${path} failed: test failed`);
        }
        break;
      }
    }
  }
  return p.doc;
}
