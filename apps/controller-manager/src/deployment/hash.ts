import { encodeMessage, type PodTemplateSpec } from "@tskube/api";

/** The label that ties a ReplicaSet and its pods to one pod template of a Deployment. */
export const POD_TEMPLATE_HASH_LABEL = "pod-template-hash";

/** apimachinery's rand.SafeEncodeString alphabet: no vowels (no words), no 0/1/3 (look like o/l/e). */
const SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789";

/** FNV-1a, 32 bits (hash/fnv's New32a). */
export function fnv32a(bytes: Uint8Array, hash = 0x811c9dc5): number {
  let h = hash;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** rand.SafeEncodeString: each character mapped into the safe alphabet by its code. */
export function safeEncodeString(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) out += SAFE_ALPHANUMS[s.charCodeAt(i) % SAFE_ALPHANUMS.length];
  return out;
}

/**
 * controller.ComputeHash: fnv32a of the pod template, then of the collision count as 4
 * little-endian bytes when there is one, printed in decimal and safe-encoded. Kubernetes hashes
 * the Go struct's printed form; tskube hashes the template's Kubernetes JSON (fields in proto
 * order, map keys sorted, defaults omitted), which is stable in the same way: the same template
 * gives the same name on every controller-manager, and a bumped collisionCount gives a new one.
 */
export function computeHash(template: PodTemplateSpec | undefined, collisionCount?: number): string {
  const json = JSON.stringify(encodeMessage("tskube.v1.PodTemplateSpec", template ?? {}));
  let h = fnv32a(new TextEncoder().encode(json));
  if (collisionCount !== undefined) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv32a(b, h);
  }
  return safeEncodeString(String(h));
}

/** The template in its Kubernetes JSON form without the pod-template-hash label. */
function withoutHash(t: PodTemplateSpec | undefined): string {
  const json = encodeMessage("tskube.v1.PodTemplateSpec", t ?? {}) as {
    metadata?: { labels?: Record<string, string> };
  };
  const labels = json.metadata?.labels;
  if (labels) {
    delete labels[POD_TEMPLATE_HASH_LABEL];
    if (Object.keys(labels).length === 0) delete json.metadata!.labels;
    if (Object.keys(json.metadata!).length === 0) delete json.metadata;
  }
  return JSON.stringify(json);
}

/**
 * deploymentutil.EqualIgnoreHash: the same template apart from the pod-template-hash label, which
 * the ReplicaSet's copy carries and the Deployment's does not.
 */
export function equalIgnoreHash(a: PodTemplateSpec | undefined, b: PodTemplateSpec | undefined): boolean {
  return withoutHash(a) === withoutHash(b);
}
