import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeRuntime } from "./fake.js";

describe("FakeRuntime images", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("has no image until it pulls one, and a pull takes the start delay", async () => {
    vi.useFakeTimers();
    const rt = new FakeRuntime("10.9.0.0", 500);
    expect(await rt.images.imageStatus("busybox:1.36")).toBeUndefined();
    let pulled = false;
    const pull = rt.images.pullImage("busybox:1.36").then((img) => {
      pulled = true;
      return img;
    });
    await vi.advanceTimersByTimeAsync(499);
    expect(pulled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const img = await pull;
    expect(img.repoTags).toEqual(["busybox:1.36"]);
    expect(img.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await rt.images.imageStatus("busybox:1.36")).toEqual(img);
    expect(await rt.images.imageStatus("busybox:1.37")).toBeUndefined();
  });

  it("an exec exits 0 at once", async () => {
    const rt = new FakeRuntime("10.9.0.0");
    const s = await rt.exec();
    expect(await s.exited).toBe(0);
  });
});
