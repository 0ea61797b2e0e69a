/**
 * Bundles every component (apps/<name>/src/main.ts) plus the container health probe into dist/image/,
 * the directory the tskube image copies to /opt/tskube. Bundling on the host is what makes an offline
 * image possible: containers here cannot reach a registry, so nothing is installed inside them.
 *
 *   dist/image/tskube.mjs            dispatcher: `tskube <component> [flags]`
 *   dist/image/<component>.mjs       one entry per component (shared code in chunk-*.mjs)
 *   dist/image/proto/                the API contract, read at runtime for gRPC reflection
 *   dist/image/assets/<pkg>@<ver>/   copies of dependencies that read files next to their own code
 *
 * usage: tsx scripts/bundle-image.ts [--outdir dist/image]
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build, type Plugin } from "esbuild";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

interface PackageInfo {
  root: string;
  /** "<name>@<version>": two versions of one package may both ship files. */
  id: string;
}

function findPackage(file: string): PackageInfo {
  let dir = dirname(file);
  for (;;) {
    const pj = join(dir, "package.json");
    if (existsSync(pj)) {
      const { name, version } = JSON.parse(readFileSync(pj, "utf8")) as { name?: string; version?: string };
      if (name) return { root: dir, id: `${name}@${version ?? "0.0.0"}` };
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json with a name above ${file}`);
    dir = parent;
  }
}

/**
 * CommonJS dependencies (grpc-js, proto-loader, etcd3, grpc-health-check, @grpc/reflection) load
 * .proto files from `__dirname`. In one bundle every module would share the bundle's directory, so
 * each such module gets its own `__dirname` pointing at a copy of its package under assets/, with the
 * package's layout intact.
 */
function packageRelativePaths(used: Map<string, PackageInfo>): Plugin {
  return {
    name: "package-relative-paths",
    setup(b) {
      b.onLoad({ filter: /[\\/]node_modules[\\/].*\.c?js$/ }, async (args) => {
        const source = await readFile(args.path, "utf8");
        if (!/\b__(dirname|filename)\b/.test(source)) return undefined;
        const pkg = findPackage(args.path);
        used.set(pkg.id, pkg);
        const rel = relative(pkg.root, args.path).split("\\").join("/");
        const file = `${pkg.id}/${rel}`;
        const prelude =
          `var __filename = __tskubeAsset(${JSON.stringify(file)}); ` +
          `var __dirname = __tskubeAsset(${JSON.stringify(dirname(file))});\n`;
        // A prelude before "use strict" would turn the directive into a plain expression.
        const strict = /^(#!.*\n)?\s*(["'])use strict\2;?/.exec(source);
        const at = strict ? strict[0].length : 0;
        return {
          contents: `${source.slice(0, at)}\n${prelude}${source.slice(at)}`,
          loader: "js",
          resolveDir: dirname(args.path),
        };
      });
    },
  };
}

/** Lets bundled CommonJS code `require` Node built-ins and find its assets beside the bundle. */
const BANNER = [
  `import { createRequire as __tskubeCreateRequire } from "node:module";`,
  `import { dirname as __tskubeDirname, join as __tskubeJoin } from "node:path";`,
  `import { fileURLToPath as __tskubeFileURLToPath } from "node:url";`,
  `const require = __tskubeCreateRequire(import.meta.url);`,
  `const __tskubeAsset = (p) => __tskubeJoin(__tskubeDirname(__tskubeFileURLToPath(import.meta.url)), "assets", p);`,
].join("\n");

function componentEntries(repoRoot: string): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const app of readdirSync(join(repoRoot, "apps")).sort()) {
    const main = join(repoRoot, "apps", app, "src", "main.ts");
    if (existsSync(main)) entries[app] = main;
  }
  entries["health-probe"] = join(repoRoot, "scripts", "health-probe.ts");
  return entries;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { outdir: { type: "string", default: "dist/image" } } });
  const outdir = resolve(REPO_ROOT, values.outdir);
  const entries = componentEntries(REPO_ROOT);
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });

  const used = new Map<string, PackageInfo>();
  const result = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: entries,
    outdir,
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outExtension: { ".js": ".mjs" },
    entryNames: "[name]",
    chunkNames: "chunk-[hash]",
    sourcemap: "linked",
    banner: { js: BANNER },
    plugins: [packageRelativePaths(used)],
    // Native add-ons that dockerode's SSH transport loads optionally (inside try/catch); the image
    // talks to Docker over its Unix socket and never needs them.
    external: ["cpu-features", "*.node"],
    logLevel: "warning",
  }).catch(() => undefined);
  // esbuild has already printed the errors with their locations.
  if (!result || result.errors.length > 0) process.exit(1);

  for (const pkg of used.values()) {
    await cp(pkg.root, join(outdir, "assets", pkg.id), {
      recursive: true,
      dereference: true,
      filter: (src) => !relative(pkg.root, src).split(/[\\/]/).includes("node_modules"),
    });
  }
  await cp(join(REPO_ROOT, "proto"), join(outdir, "proto"), { recursive: true });
  await cp(join(REPO_ROOT, "docker", "tskube.mjs"), join(outdir, "tskube.mjs"));
  await writeFile(join(outdir, "components.json"), `${JSON.stringify(Object.keys(entries), null, 2)}\n`);
  console.log(`bundled ${Object.keys(entries).join(", ")} into ${relative(REPO_ROOT, outdir)}`);
}

await main();
