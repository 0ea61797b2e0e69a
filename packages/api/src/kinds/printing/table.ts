/**
 * kubectl's table output: tabwriter columns padded to the widest cell plus three spaces, the last
 * column unpadded.
 */
export function formatTable(
  headers: readonly string[] | undefined,
  rows: readonly (readonly string[])[],
): string {
  const all = headers ? [headers, ...rows] : [...rows];
  if (all.length === 0) return "";
  const widths: number[] = [];
  for (const row of all) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return all
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join(""))
    .join("\n")
    .concat("\n");
}
