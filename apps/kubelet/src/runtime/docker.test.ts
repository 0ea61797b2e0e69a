import { describe, expect, it } from "vitest";
import { demux, demuxer } from "./docker.js";

/** One frame of Docker's multiplexed stream: stream type, 3 zero bytes, big-endian size, payload. */
function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe("Docker stream demultiplexing", () => {
  it("splits a whole buffer into stdout, stderr and both in order", () => {
    const { stdout, stderr, all } = demux(
      Buffer.concat([frame(1, "out1 "), frame(2, "err "), frame(1, "out2")]),
    );
    expect(stdout.toString()).toBe("out1 out2");
    expect(stderr.toString()).toBe("err ");
    expect(all.toString()).toBe("out1 err out2");
  });

  it("follows frames across chunk boundaries, headers split too", () => {
    const out: string[] = [];
    const err: string[] = [];
    const feed = demuxer(
      (d) => out.push(d.toString()),
      (d) => err.push(d.toString()),
    );
    const bytes = Buffer.concat([frame(1, "hello "), frame(2, "oops"), frame(1, "world")]);
    // One byte at a time: every split point, including inside the 8-byte headers.
    for (let i = 0; i < bytes.length; i++) feed(bytes.subarray(i, i + 1));
    expect(out.join("")).toBe("hello world");
    expect(err.join("")).toBe("oops");
    expect(out).toEqual(["hello ", "world"]);
  });
});
