import { describe, expect, it } from "vitest";
import { slowStartBatch } from "./slow-start.js";

describe("slowStartBatch", () => {
  it("runs batches of 1, 2, 4, … up to the count", async () => {
    const batches: number[] = [];
    let inFlight = 0;
    let batch = 0;
    const r = await slowStartBatch(12, 1, async () => {
      inFlight++;
      batch++;
      await Promise.resolve();
      if (--inFlight === 0) {
        batches.push(batch);
        batch = 0;
      }
    });
    expect(batches).toEqual([1, 2, 4, 5]);
    expect(r).toEqual({ successes: 12, error: undefined });
  });

  it("stops after the first batch with an error and counts the successes", async () => {
    let calls = 0;
    const r = await slowStartBatch(20, 1, async () => {
      calls++;
      if (calls > 4) throw new Error(`refused ${calls}`);
    });
    // 1 + 2 succeed, the batch of 4 has one success and three failures, then nothing more.
    expect(calls).toBe(7);
    expect(r.successes).toBe(4);
    expect((r.error as Error).message).toBe("refused 5");
  });

  it("does nothing for a count of 0", async () => {
    let calls = 0;
    expect(
      await slowStartBatch(0, 1, async () => {
        calls++;
      }),
    ).toEqual({ successes: 0, error: undefined });
    expect(calls).toBe(0);
  });
});
