import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { decodeObject, type KindInfo, type KubeObject, parseManifests } from "@tskube/api";
import { describeError, UsageError } from "./errors.js";

export interface ManifestDoc {
  source: string;
  kind: KindInfo;
  object: KubeObject;
}

const MANIFEST_EXTENSIONS = new Set([".yaml", ".yml", ".json"]);

function filesOf(path: string, recursive: boolean): string[] {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new UsageError(`the path "${path}" does not exist`);
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(path, entry.name);
    if (entry.isDirectory()) {
      if (recursive) out.push(...filesOf(p, true));
    } else if (MANIFEST_EXTENSIONS.has(extname(entry.name))) out.push(p);
  }
  return out;
}

/**
 * Reads -f arguments (files, directories, "-" for stdin) into decoded objects. Documents that fail
 * to parse or decode are reported through onError and skipped, as kubectl goes on with the rest.
 */
export function readManifests(
  paths: readonly string[],
  recursive: boolean,
  onError: (message: string) => void,
): ManifestDoc[] {
  const docs: ManifestDoc[] = [];
  for (const arg of paths) {
    const files = arg === "-" ? ["-"] : filesOf(arg, recursive);
    for (const file of files) {
      const text = file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
      const source = file === "-" ? "STDIN" : file;
      let manifests: unknown[];
      try {
        manifests = parseManifests(text, source);
      } catch (err) {
        onError(describeError(err, undefined, true));
        continue;
      }
      for (const m of manifests) {
        try {
          const { kind, object } = decodeObject(m);
          docs.push({ source, kind, object });
        } catch (err) {
          onError(describeError(err, `error validating "${source}"`, true));
        }
      }
    }
  }
  return docs;
}
