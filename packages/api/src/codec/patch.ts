import { errors } from "@tskube/machinery";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isObject = (v: unknown): v is Record<string, Json> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

/** RFC 7386 JSON merge patch: objects merge, null deletes, everything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, Json> = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v) as Json;
  }
  return out;
}

function unescapeToken(token: string): string {
  return token.replace(/~1/g, "/").replace(/~0/g, "~");
}

function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/"))
    throw errors.badRequest(`json patch: invalid path ${JSON.stringify(pointer)}`);
  return pointer.slice(1).split("/").map(unescapeToken);
}

function resolveParent(doc: Json, tokens: string[], pointer: string): { parent: Json; key: string } {
  let cur: Json = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(t)] as Json;
    else if (isObject(cur)) cur = cur[t] as Json;
    else cur = undefined as unknown as Json;
    if (cur === undefined)
      throw errors.badRequest(`json patch: path ${JSON.stringify(pointer)} does not exist`);
  }
  return { parent: cur, key: tokens[tokens.length - 1]! };
}

function getAt(doc: Json, pointer: string): Json {
  let cur: Json = doc;
  for (const t of parsePointer(pointer)) {
    const next: Json | undefined = Array.isArray(cur) ? cur[Number(t)] : isObject(cur) ? cur[t] : undefined;
    if (next === undefined)
      throw errors.badRequest(`json patch: path ${JSON.stringify(pointer)} does not exist`);
    cur = next;
  }
  return cur;
}

function arrayIndex(arr: Json[], key: string, pointer: string, forInsert: boolean): number {
  if (forInsert && key === "-") return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(key))
    throw errors.badRequest(`json patch: invalid array index in ${JSON.stringify(pointer)}`);
  const i = Number(key);
  if (i > arr.length || (!forInsert && i === arr.length)) {
    throw errors.badRequest(`json patch: index out of range in ${JSON.stringify(pointer)}`);
  }
  return i;
}

function add(doc: Json, pointer: string, value: Json): Json {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const { parent, key } = resolveParent(doc, tokens, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, pointer, true), 0, value);
  else if (isObject(parent)) parent[key] = value;
  else throw errors.badRequest(`json patch: path ${JSON.stringify(pointer)} does not exist`);
  return doc;
}

function remove(doc: Json, pointer: string): Json {
  const tokens = parsePointer(pointer);
  const { parent, key } = resolveParent(doc, tokens, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, pointer, false), 1);
  else if (isObject(parent) && key in parent) delete parent[key];
  else throw errors.badRequest(`json patch: path ${JSON.stringify(pointer)} does not exist`);
  return doc;
}

/** RFC 6902 JSON patch: add, remove, replace, move, copy, test. */
export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw errors.badRequest("json patch: the patch must be a list of operations");
  let doc = clone(target) as Json;
  ops.forEach((op, i) => {
    if (!isObject(op) || typeof op.op !== "string" || typeof op.path !== "string") {
      throw errors.badRequest(`json patch: operation ${i} needs "op" and "path"`);
    }
    const path = op.path;
    switch (op.op) {
      case "add":
        doc = add(doc, path, clone(op.value as Json));
        break;
      case "remove":
        doc = remove(doc, path);
        break;
      case "replace":
        getAt(doc, path);
        doc = add(remove(doc, path), path, clone(op.value as Json));
        break;
      case "move": {
        const v = getAt(doc, String(op.from));
        doc = add(remove(doc, String(op.from)), path, v);
        break;
      }
      case "copy":
        doc = add(doc, path, clone(getAt(doc, String(op.from))));
        break;
      case "test":
        if (JSON.stringify(getAt(doc, path)) !== JSON.stringify(op.value)) {
          throw errors.badRequest(`json patch: test operation failed at ${JSON.stringify(path)}`);
        }
        break;
      default:
        throw errors.badRequest(`json patch: unsupported operation ${JSON.stringify(op.op)}`);
    }
  });
  return doc;
}

/**
 * patchMergeKey of the lists Kubernetes' strategic merge patch merges by key; every other list is
 * replaced whole, as in Kubernetes.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  volumes: "name",
  volumeMounts: "mountPath",
  env: "name",
  ports: "containerPort",
  imagePullSecrets: "name",
  conditions: "type",
  hostAliases: "ip",
  ownerReferences: "uid",
  taints: "key",
  addresses: "type",
};

function mergeList(key: string, target: Json[], patch: Json[]): Json[] {
  const mergeKey = MERGE_KEYS[key];
  if (!mergeKey || !patch.every((p) => isObject(p) && mergeKey in p))
    return patch.filter((p) => !(isObject(p) && p.$patch));
  const out = clone(target);
  for (const p of patch as Record<string, Json>[]) {
    const idx = out.findIndex((t) => isObject(t) && t[mergeKey] === p[mergeKey]);
    if (p.$patch === "delete") {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = strategicMerge(out[idx], p) as Json;
    else out.push(strategicMerge({}, p) as Json);
  }
  return out;
}

function strategicMerge(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === "replace") {
    const { $patch: _, ...rest } = patch;
    return clone(rest);
  }
  if (patch.$patch === "delete") return undefined;
  const out: Record<string, Json> = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$")) continue;
    if (v === null) delete out[k];
    else if (Array.isArray(v) && Array.isArray(out[k])) out[k] = mergeList(k, out[k] as Json[], v);
    else if (Array.isArray(v)) out[k] = mergeList(k, [], v);
    else {
      const merged = strategicMerge(out[k], v);
      if (merged === undefined) delete out[k];
      else out[k] = merged as Json;
    }
  }
  return out;
}

/** Kubernetes' strategic merge patch for the lists users patch (containers, env, ports, …). */
export function applyStrategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) throw errors.badRequest("strategic merge patch: the patch must be an object");
  return strategicMerge(target, patch);
}
