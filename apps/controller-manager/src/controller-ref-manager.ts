import { type KubeObject, OwnerReference } from "@tskube/api";
import type { ResourceClient } from "@tskube/client";
import { isNotFound, type Selector } from "@tskube/machinery";
import { controllerRefOf } from "./pod-util.js";

export interface ClaimOptions<T extends KubeObject> {
  /** The controller claiming (a ReplicaSet for pods, a Deployment for ReplicaSets). */
  owner: KubeObject;
  ownerApiVersion: string;
  ownerKind: string;
  selector: Selector;
  /** Where adoption and release are written. */
  client: ResourceClient<T>;
  /**
   * Asked once before the first adoption: is the owner still there and not being deleted, read
   * fresh from the apiserver? A cached owner may already be gone, and adopting for it would hand
   * the objects to the garbage collector.
   */
  canAdopt: () => Promise<void>;
}

/**
 * controller.BaseControllerRefManager.ClaimObject for a list: keeps objects this owner controls
 * and still selects, adopts orphans it selects (sets itself as their controller), and releases
 * objects it controls that no longer match (removes its ownerReference), so another controller,
 * or a new one, may pick them up. Writes carry the object's resourceVersion: if the object changed
 * meanwhile, the write fails and the sync is retried on fresh state.
 */
export async function claimObjects<T extends KubeObject>(
  objects: readonly T[],
  opts: ClaimOptions<T>,
): Promise<T[]> {
  const owner = opts.owner.metadata!;
  const claimed: T[] = [];
  const errors: unknown[] = [];
  let adoptable: Promise<void> | undefined;
  for (const obj of objects) {
    const ref = controllerRefOf(obj);
    const matches = opts.selector.matches(obj.metadata?.labels ?? {});
    try {
      if (ref) {
        if (ref.uid !== owner.uid) continue;
        if (matches) {
          claimed.push(obj);
          continue;
        }
        // A terminating owner keeps its objects: the garbage collector deals with them.
        if (owner.deletionTimestamp) continue;
        await release(obj, opts);
        continue;
      }
      if (owner.deletionTimestamp || !matches || obj.metadata?.deletionTimestamp) continue;
      adoptable ??= opts.canAdopt();
      await adoptable;
      claimed.push(await adopt(obj, opts));
    } catch (err) {
      if (!isNotFound(err)) errors.push(err);
    }
  }
  if (errors.length > 0) throw errors[0];
  return claimed;
}

async function adopt<T extends KubeObject>(obj: T, opts: ClaimOptions<T>): Promise<T> {
  const m = opts.owner.metadata!;
  const ref = OwnerReference.fromPartial({
    apiVersion: opts.ownerApiVersion,
    kind: opts.ownerKind,
    name: m.name,
    uid: m.uid,
    controller: true,
    blockOwnerDeletion: true,
  });
  const others = (obj.metadata?.ownerReferences ?? []).filter((r) => r.uid !== m.uid);
  return await opts.client.update({
    ...obj,
    metadata: { ...obj.metadata!, ownerReferences: [...others, ref] },
  });
}

async function release<T extends KubeObject>(obj: T, opts: ClaimOptions<T>): Promise<T> {
  const uid = opts.owner.metadata!.uid;
  const refs = (obj.metadata?.ownerReferences ?? []).filter((r) => r.uid !== uid);
  return await opts.client.update({ ...obj, metadata: { ...obj.metadata!, ownerReferences: refs } });
}

/** The owner's uid read fresh; throws when it is gone, replaced or being deleted. */
export async function recheckOwner<T extends KubeObject>(
  client: ResourceClient<T>,
  owner: KubeObject,
  kind: string,
): Promise<void> {
  const m = owner.metadata!;
  const fresh = await client.get(m.name, { namespace: m.namespace }).catch((err) => {
    // Not an ignorable NotFound of the object being claimed: the owner itself is gone.
    if (isNotFound(err)) throw new Error(`original ${kind} ${m.namespace}/${m.name} is gone: not found`);
    throw err;
  });
  if (fresh.metadata?.uid !== m.uid)
    throw new Error(
      `original ${kind} ${m.namespace}/${m.name} is gone: got uid ${fresh.metadata?.uid}, wanted ${m.uid}`,
    );
  if (fresh.metadata?.deletionTimestamp)
    throw new Error(`${m.namespace}/${m.name} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
}
