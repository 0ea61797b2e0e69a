import { errors } from "@tskube/machinery";
import { kindForManifest } from "../kinds.js";
import { compactJson, hasOwn, isPlainObject, jsonClone, jsonEqual, setOwn } from "./json-value.js";
import { mergeStrategyOf } from "./patch-strategies.js";
import { messageSchema } from "./schema.js";

const DIRECTIVE = "$patch";
const RETAIN_KEYS = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER = "$setElementOrder/";

/** What a JSON object in the document is: a message, a map (of messages or scalars), or unknown. */
type NodeType = { message: string } | { mapOf: string | undefined } | undefined;

interface ChildInfo {
  type: NodeType;
  /** For list fields: the merge key, null for a set of scalars, undefined for replace. */
  mergeKey: string | null | undefined;
}

function childOf(node: NodeType, key: string): ChildInfo {
  if (!node) return { type: undefined, mergeKey: undefined };
  if ("mapOf" in node) {
    return { type: node.mapOf ? { message: node.mapOf } : undefined, mergeKey: undefined };
  }
  const f = messageSchema(node.message).byJsonName.get(key);
  if (!f) return { type: undefined, mergeKey: undefined };
  const type: NodeType = f.map ? { mapOf: f.map.message } : f.message ? { message: f.message } : undefined;
  return { type, mergeKey: f.repeated ? mergeStrategyOf(node.message, f.jsonName) : undefined };
}

const badPatch = (message: string) => errors.badRequest(message);

const kindWord = (v: unknown) =>
  v === null ? "nil" : Array.isArray(v) ? "slice" : isPlainObject(v) ? "map" : typeof v;

const noMergeKey = (item: unknown, mergeKey: string) =>
  badPatch(`map: ${compactJson(item)} does not contain declared merge key: ${mergeKey}`);

/** The identity of a list item: its merge key's value, or the scalar itself. */
function identity(item: unknown, mergeKey: string | null): unknown {
  return mergeKey !== null && isPlainObject(item) ? item[mergeKey] : item;
}

function indexIn(list: readonly unknown[], item: unknown, mergeKey: string | null): number {
  const id = identity(item, mergeKey);
  return list.findIndex((x) => identity(x, mergeKey) === id);
}

/**
 * Kubernetes' ordering of a merged list: items named in the patch keep the patch's order, the
 * others keep the live order, and the two interleave where the live list relates them. An item the
 * live list does not know goes before the rest, so new containers land first, as with kubectl.
 */
function orderMerged(
  merged: readonly unknown[],
  patchOrder: readonly unknown[],
  serverOrder: readonly unknown[],
  mergeKey: string | null,
): unknown[] {
  const inPatch = (x: unknown) => indexIn(patchOrder, x, mergeKey) >= 0;
  const byOrder = (order: readonly unknown[]) => (a: unknown, b: unknown) => {
    const ia = indexIn(order, a, mergeKey);
    const ib = indexIn(order, b, mergeKey);
    return ia >= 0 && ib >= 0 ? ia - ib : 0;
  };
  const right = merged.filter(inPatch).sort(byOrder(patchOrder));
  const left = merged.filter((x) => !inPatch(x)).sort(byOrder(serverOrder));
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (j >= right.length) out.push(left[i++]);
    else if (i >= left.length) out.push(right[j++]);
    else {
      const li = indexIn(serverOrder, left[i], mergeKey);
      const ri = indexIn(serverOrder, right[j], mergeKey);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

function mergeScalarList(original: unknown[], patch: unknown[]): unknown[] {
  const merged: unknown[] = [];
  for (const v of [...original, ...patch]) if (!merged.includes(v)) merged.push(v);
  return orderMerged(merged, patch, original, null);
}

function mergeKeyedList(original: unknown[], patch: unknown[], mergeKey: string, type: NodeType): unknown[] {
  let live = original.map(jsonClone);
  const items: Record<string, unknown>[] = [];
  let replace = false;
  for (const item of patch) {
    if (!isPlainObject(item)) throw badPatch(`expected a map, but received a ${kindWord(item)}`);
    if (!hasOwn(item, DIRECTIVE)) {
      if (!hasOwn(item, mergeKey)) throw noMergeKey(item, mergeKey);
      items.push(item);
      continue;
    }
    switch (item[DIRECTIVE]) {
      case "delete":
        if (!hasOwn(item, mergeKey)) throw noMergeKey(item, mergeKey);
        live = live.filter((x) => !isPlainObject(x) || x[mergeKey] !== item[mergeKey]);
        break;
      case "replace":
        replace = true;
        break;
      case "merge":
        throw badPatch("merging lists cannot yet be specified in the patch");
      default:
        throw badPatch(`unknown patch type: ${compactJson(item[DIRECTIVE])} in map: ${compactJson(item)}`);
    }
  }
  // `$patch: replace` makes the other items the whole list.
  if (replace) return items.map((item) => mergeMap(undefined, item, type));
  const merged = [...live];
  for (const item of items) {
    const at = indexIn(merged, item, mergeKey);
    if (at >= 0) merged[at] = mergeMap(merged[at], item, type);
    else merged.push(mergeMap(undefined, item, type));
  }
  return orderMerged(merged, items, live, mergeKey);
}

function mergeList(original: unknown[], patch: unknown[], info: ChildInfo): unknown[] {
  if (info.mergeKey === undefined) return jsonClone(patch);
  if (patch.some(Array.isArray)) throw badPatch("lists of lists are not supported");
  if (info.mergeKey === null) return mergeScalarList(original, patch);
  return mergeKeyedList(original, patch, info.mergeKey, info.type);
}

/** A patch value for a key the original does not have: taken as is, with its directives applied. */
function fresh(patch: unknown, info: ChildInfo): unknown {
  if (isPlainObject(patch)) return mergeMap(undefined, patch, info.type);
  if (Array.isArray(patch)) return mergeList([], patch, info);
  return patch;
}

function applyRetainKeys(out: Record<string, unknown>, patch: Record<string, unknown>): void {
  if (!hasOwn(patch, RETAIN_KEYS)) return;
  const keep = patch[RETAIN_KEYS];
  if (!Array.isArray(keep)) throw badPatch("invalid patch format of retainKeys");
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith("$")) continue;
    if (!keep.includes(k)) throw badPatch("invalid patch format of retainKeys");
  }
  for (const k of Object.keys(out)) if (!keep.includes(k)) delete out[k];
}

/** `$setElementOrder/<list>`: the patch's full order of a merged list wins over both other orders. */
function applyElementOrder(
  out: Record<string, unknown>,
  key: string,
  order: unknown,
  serverOrder: unknown,
  info: ChildInfo,
): void {
  if (!Array.isArray(order)) throw badPatch("invalid patch format of setElementOrder list");
  const list = out[key];
  if (!Array.isArray(list) || info.mergeKey === undefined) return;
  const mergeKey = info.mergeKey;
  if (mergeKey !== null) {
    for (const item of order)
      if (!isPlainObject(item) || !hasOwn(item, mergeKey)) throw noMergeKey(item, mergeKey);
  }
  out[key] = orderMerged(list, order, Array.isArray(serverOrder) ? serverOrder : [], mergeKey);
}

function mergeMap(
  original: unknown,
  patch: Record<string, unknown>,
  type: NodeType,
): Record<string, unknown> {
  if (hasOwn(patch, DIRECTIVE)) {
    const directive = patch[DIRECTIVE];
    if (directive === "delete") return {};
    if (directive !== "replace") {
      throw badPatch(`unknown patch type: ${compactJson(directive)} in map: ${compactJson(patch)}`);
    }
    const { [DIRECTIVE]: _, ...rest } = patch;
    return mergeMap(undefined, rest, type);
  }
  const out: Record<string, unknown> = isPlainObject(original) ? jsonClone(original) : {};
  const before = isPlainObject(original) ? original : {};
  applyRetainKeys(out, patch);
  for (const [k, v] of Object.entries(patch)) {
    if (k === RETAIN_KEYS || k.startsWith(SET_ELEMENT_ORDER)) continue;
    if (k.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
      const listKey = k.slice(DELETE_FROM_PRIMITIVE_LIST.length);
      if (!Array.isArray(v)) throw badPatch("invalid patch format of primitive list");
      const list = out[listKey];
      if (Array.isArray(list)) out[listKey] = list.filter((x) => !v.some((d) => jsonEqual(d, x)));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const info = childOf(type, k);
    const current = hasOwn(out, k) ? out[k] : undefined;
    if (current === undefined) setOwn(out, k, fresh(v, info));
    else if (isPlainObject(current) && isPlainObject(v)) setOwn(out, k, mergeMap(current, v, info.type));
    else if (Array.isArray(current) && Array.isArray(v)) setOwn(out, k, mergeList(current, v, info));
    else setOwn(out, k, fresh(v, info));
  }
  for (const [k, order] of Object.entries(patch)) {
    if (!k.startsWith(SET_ELEMENT_ORDER)) continue;
    const listKey = k.slice(SET_ELEMENT_ORDER.length);
    applyElementOrder(out, listKey, order, before[listKey], childOf(type, listKey));
  }
  return out;
}

/**
 * Kubernetes' strategic merge patch on the JSON form of an object (encodeObject output): maps merge,
 * null deletes, the lists Kubernetes marks `patchStrategy: merge` merge by their patchMergeKey
 * (containers and volumes by name, ports by containerPort, conditions by type, …) or as sets, and
 * all other lists are replaced. Directives: `$patch: delete|replace` in maps and list items,
 * `$retainKeys`, `$deleteFromPrimitiveList/<list>` and `$setElementOrder/<list>`. The object's type
 * comes from its apiVersion and kind unless `typeName` names it ("tskube.v1.PodSpec").
 */
export function applyStrategicMergePatch(target: unknown, patch: unknown, typeName?: string): unknown {
  if (!isPlainObject(patch)) throw badPatch("strategic merge patch: the patch must be a JSON object");
  let type = typeName;
  if (!type) {
    const source = isPlainObject(target) && target.kind ? target : patch;
    const kind = kindForManifest(String(source.apiVersion ?? ""), String(source.kind ?? ""));
    if (!kind) {
      throw badPatch(
        `strategic merge patch: no matches for kind "${String(source.kind ?? "")}" in version "${String(source.apiVersion ?? "")}"`,
      );
    }
    type = kind.messageType.$type;
  }
  return mergeMap(target, patch, { message: type });
}
