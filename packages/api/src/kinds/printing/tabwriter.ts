/**
 * Go's text/tabwriter as kubectl describe sets it up (minwidth 0, padding 2, spaces): cells end at
 * a tab, and a column is aligned over each run of consecutive lines that have a cell in it, so a
 * line without tabs ("Containers:") starts a new alignment block. Describe output only lines up
 * like kubectl's if the blocks are formed the same way, which fixed-width padding cannot do.
 */
export function tabwrite(text: string, padding = 2): string {
  const trailing = text.endsWith("\n");
  const lines = (trailing ? text.slice(0, -1) : text).split("\n").map((l) => l.split("\t"));
  const out: string[] = [];
  format(lines, [], 0, lines.length, out, padding);
  return out.join("\n") + (trailing ? "\n" : "");
}

function writeLines(lines: string[][], widths: number[], from: number, to: number, out: string[]): void {
  for (let i = from; i < to; i++) {
    const cells = lines[i]!;
    out.push(
      cells.map((c, j) => (j < widths.length && j < cells.length - 1 ? c.padEnd(widths[j]!) : c)).join(""),
    );
  }
}

function format(
  lines: string[][],
  widths: number[],
  line0: number,
  line1: number,
  out: string[],
  padding: number,
) {
  const column = widths.length;
  let start = line0;
  for (let i = line0; i < line1; i++) {
    // The last cell of a line is not tab-terminated and belongs to no column.
    if (column >= lines[i]!.length - 1) continue;
    writeLines(lines, widths, start, i, out);
    let width = 0;
    let end = i;
    for (; end < line1 && column < lines[end]!.length - 1; end++)
      width = Math.max(width, lines[end]![column]!.length + padding);
    widths.push(width);
    format(lines, widths, i, end, out, padding);
    widths.pop();
    start = end;
    i = end - 1;
  }
  writeLines(lines, widths, start, line1, out);
}
