import { printing } from "@tskube/api";
import type { Context } from "../context.js";

export const KTL_VERSION = "v0.1.0";

/** `ktl version`: client and server versions (the server answers discovery). */
export async function version(ctx: Context): Promise<void> {
  ctx.out(`Client Version: ${KTL_VERSION}\n`);
  const resources = await ctx.client().discovery();
  ctx.out(
    `Server Version: ${KTL_VERSION} (${resources.length} resource types at ${ctx.client().currentServer()})\n`,
  );
}

/** `ktl api-resources`, with kubectl's columns. */
export async function apiResources(ctx: Context): Promise<void> {
  const resources = await ctx.client().discovery();
  const rows = resources
    .map((r) => [
      r.name,
      r.shortNames.join(","),
      r.group ? `${r.group}/${r.version}` : r.version,
      String(r.namespaced),
      r.kind,
    ])
    .sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
  ctx.out(printing.formatTable(["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"], rows));
}
