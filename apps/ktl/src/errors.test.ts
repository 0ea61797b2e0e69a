import { AmbiguousWriteError } from "@tskube/client";
import { errors } from "@tskube/machinery";
import { describe, expect, it } from "vitest";
import { describeError } from "./errors.js";

describe("describeError", () => {
  it("says a write may have been applied, not that the connection was refused", () => {
    const lost = new AmbiguousWriteError(
      'create configmaps "a" in namespace "default": the request may or may not have been applied (connection to 127.0.0.1:6443 closed (stream reset with code 2)); it was not sent again, as repeating it could apply it twice',
      { kind: "configmaps", name: "a" },
    );
    expect(describeError(lost)).toBe(`error: ${lost.message}`);
    expect(describeError(errors.serviceUnavailable("cannot connect to apiserver 127.0.0.1:6443"))).toBe(
      "The connection to the server was refused - did you specify the right host or port? (cannot connect to apiserver 127.0.0.1:6443)",
    );
  });
});
