import { type DescribeContext, eventKind, type KindDefinition, type KubeObject } from "@tskube/api";
import type { Context } from "../context.js";
import { resolveKind } from "../context.js";
import { describeError } from "../errors.js";

/** `ktl describe KIND [NAME...]`: kubectl's layout plus the object's events. */
export async function describe(
  ctx: Context,
  args: string[],
  flags: { selector?: string; allNamespaces: boolean },
): Promise<void> {
  if (!args.length)
    throw new Error(
      'You must specify the type of resource to describe. Use "ktl api-resources" for a complete list of supported resources.',
    );
  const [first, ...rest] = args;
  const [kindName, maybeName] = first!.split("/");
  const kind = resolveKind(kindName!);
  const names = maybeName ? [maybeName, ...rest] : rest;
  const resource = ctx.client().resource(kind);
  const namespace = flags.allNamespaces ? "" : ctx.namespace;
  let objects: KubeObject[] = [];
  if (names.length) {
    for (const n of names) {
      try {
        objects.push(await resource.get(n, { namespace }));
      } catch (err) {
        ctx.err(describeError(err));
      }
    }
  } else {
    objects = (await resource.listAll({ namespace, labelSelector: flags.selector ?? "" })).items;
  }
  const out: string[] = [];
  for (const obj of objects) out.push(await describeObject(ctx, kind, obj));
  ctx.out(out.join("\n\n"));
}

/** One object as its kind's describer prints it, with the object's events. */
export async function describeObject<T extends KubeObject>(
  ctx: Context,
  kind: KindDefinition<T>,
  obj: T,
): Promise<string> {
  const client = ctx.client();
  const get: DescribeContext["get"] = async (k, namespace, name) => {
    try {
      return await client.resource(k).get(name, { namespace });
    } catch {
      return undefined;
    }
  };
  let events: DescribeContext["events"];
  try {
    const list = await client.resource(eventKind).listAll({
      namespace: kind.namespaced ? obj.metadata!.namespace : "",
      fieldSelector: `involvedObject.uid=${obj.metadata!.uid}`,
    });
    events = list.items;
  } catch {
    events = [];
  }
  return kind.printer.describe(obj, { events, now: Date.now(), get });
}
