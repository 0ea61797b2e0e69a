import { describe, expect, it } from "vitest";
import { KeyHeap } from "./heap.js";

describe("KeyHeap", () => {
  const byNumber = (a: string, b: string) => Number(a) - Number(b);

  it("pops keys in order, whatever order they came in", () => {
    const h = new KeyHeap(byNumber);
    const keys = Array.from({ length: 200 }, (_, i) => String((i * 37) % 200));
    for (const k of keys) h.push(k);
    h.push("5");
    expect(h.size).toBe(200);
    const out: number[] = [];
    for (let k = h.pop(); k !== undefined; k = h.pop()) out.push(Number(k));
    expect(out).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it("deletes any key and keeps the rest in order", () => {
    const h = new KeyHeap(byNumber);
    for (let i = 0; i < 50; i++) h.push(String(49 - i));
    for (const k of ["0", "17", "49", "25", "3"]) expect(h.delete(k)).toBe(true);
    expect(h.delete("17")).toBe(false);
    expect(h.has("17")).toBe(false);
    expect(h.has("18")).toBe(true);
    const out: number[] = [];
    for (let k = h.pop(); k !== undefined; k = h.pop()) out.push(Number(k));
    expect(out).toEqual(
      Array.from({ length: 50 }, (_, i) => i).filter((i) => ![0, 3, 17, 25, 49].includes(i)),
    );
  });
});
