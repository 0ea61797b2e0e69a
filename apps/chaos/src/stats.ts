/** Nearest-rank percentile of unsorted values (0 for none), as latency reports usually take it. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Seconds with millisecond precision, as the timeline prints them. */
export const seconds = (ms: number) => Math.round(ms) / 1000;

/** The longest stretch between consecutive times within [from, to] (the edges count as times). */
export function longestGap(times: readonly number[], from: number, to: number): number {
  const inside = times.filter((t) => t >= from && t <= to).sort((a, b) => a - b);
  let prev = from;
  let gap = 0;
  for (const t of [...inside, to]) {
    gap = Math.max(gap, t - prev);
    prev = t;
  }
  return gap;
}
