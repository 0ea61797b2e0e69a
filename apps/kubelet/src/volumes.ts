import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import type { ConfigMap, Container, KeyToPath, Pod, Secret } from "@tskube/api";
import type { Client } from "@tskube/client";
import type { Mount } from "./runtime/types.js";

/**
 * Prepares a pod's volumes as host directories under the kubelet's root (emptyDir, configMap,
 * secret; hostPath as given) and maps each container's volumeMounts onto them. The runtime binds
 * them at mountPath (Docker); the root directory must be the same path on the host and in the
 * kubelet's container for that.
 */
export class VolumeManager {
  /** Pods whose volumes are in place: set up once, so bind mounts keep pointing at live dirs. */
  private readonly ready = new Map<string, Map<string, string>>();

  constructor(
    private readonly root: string,
    private readonly client: Client,
  ) {}

  private podDir(uid: string): string {
    return join(this.root, "pods", uid, "volumes");
  }

  /** Writes every volume of the pod; throws with the volume named when one cannot be set up. */
  async setUp(pod: Pod): Promise<Map<string, string>> {
    const done = this.ready.get(pod.metadata!.uid);
    if (done) return done;
    const paths = new Map<string, string>();
    const ns = pod.metadata!.namespace;
    for (const v of pod.spec?.volumes ?? []) {
      const dir = join(this.podDir(pod.metadata!.uid), v.name);
      try {
        if (v.emptyDir) {
          mkdirSync(dir, { recursive: true, mode: 0o777 });
          chmodSync(dir, 0o777);
          paths.set(v.name, dir);
        } else if (v.hostPath) {
          if (!existsSync(v.hostPath.path)) {
            if (v.hostPath.type === "DirectoryOrCreate" || v.hostPath.type === "")
              mkdirSync(v.hostPath.path, { recursive: true });
            else throw new Error(`hostPath type check failed: ${v.hostPath.path} does not exist`);
          }
          paths.set(v.name, v.hostPath.path);
        } else if (v.configMap) {
          const cm = await this.client
            .resource<ConfigMap>("configmaps")
            .get(v.configMap.name, { namespace: ns })
            .catch((err) => {
              if (v.configMap!.optional) return undefined;
              throw err;
            });
          const data: Record<string, Buffer> = {};
          for (const [k, val] of Object.entries(cm?.data ?? {})) data[k] = Buffer.from(val);
          for (const [k, val] of Object.entries(cm?.binaryData ?? {})) data[k] = Buffer.from(val);
          this.writeFiles(dir, data, v.configMap.items, v.configMap.defaultMode ?? 0o644);
          paths.set(v.name, dir);
        } else if (v.secret) {
          const s = await this.client
            .resource<Secret>("secrets")
            .get(v.secret.secretName, { namespace: ns })
            .catch((err) => {
              if (v.secret!.optional) return undefined;
              throw err;
            });
          const data: Record<string, Buffer> = {};
          for (const [k, val] of Object.entries(s?.data ?? {})) data[k] = Buffer.from(val);
          this.writeFiles(dir, data, v.secret.items, v.secret.defaultMode ?? 0o644);
          paths.set(v.name, dir);
        } else {
          throw new Error("volume type not supported by this kubelet");
        }
      } catch (err) {
        throw new Error(`MountVolume.SetUp failed for volume "${v.name}" : ${(err as Error).message}`);
      }
    }
    this.ready.set(pod.metadata!.uid, paths);
    return paths;
  }

  private writeFiles(
    dir: string,
    data: Record<string, Buffer>,
    items: readonly KeyToPath[],
    mode: number,
  ): void {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const files = items.length
      ? items.map((i) => ({ key: i.key, path: i.path, mode: i.mode ?? mode }))
      : Object.keys(data).map((k) => ({ key: k, path: k, mode }));
    for (const f of files) {
      const value = data[f.key];
      if (value === undefined) throw new Error(`configmap or secret references non-existent key ${f.key}`);
      const target = normalize(join(dir, f.path));
      if (!target.startsWith(dir)) throw new Error(`invalid path ${f.path}`);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, value, { mode: f.mode });
    }
  }

  mountsFor(container: Container, paths: Map<string, string>): Mount[] {
    return container.volumeMounts.map((m) => ({
      containerPath: m.mountPath,
      hostPath: m.subPath ? join(paths.get(m.name) ?? "", m.subPath) : (paths.get(m.name) ?? ""),
      readOnly: m.readOnly,
    }));
  }

  tearDown(uid: string): void {
    this.ready.delete(uid);
    rmSync(join(this.root, "pods", uid), { recursive: true, force: true });
  }
}
