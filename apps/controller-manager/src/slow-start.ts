/**
 * controller.slowStartBatch. Calls fn `count` times in batches that start at initialBatchSize and
 * double while every call succeeds, and stops at the first batch with an error. A ReplicaSet whose
 * pods are all refused (a quota, an admission error, a missing service account) then makes one
 * failing call per sync instead of hundreds, while a healthy one still reaches its size in log2(n)
 * round trips. Returns how many calls succeeded and the first error.
 */
export async function slowStartBatch(
  count: number,
  initialBatchSize: number,
  fn: () => Promise<void>,
): Promise<{ successes: number; error: unknown }> {
  let remaining = count;
  let successes = 0;
  for (let batch = Math.min(remaining, initialBatchSize); batch > 0; batch = Math.min(2 * batch, remaining)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, () => fn()));
    let error: unknown;
    for (const r of results) {
      if (r.status === "fulfilled") successes++;
      else error ??= r.reason;
    }
    if (error !== undefined) return { successes, error };
    remaining -= batch;
  }
  return { successes, error: undefined };
}
