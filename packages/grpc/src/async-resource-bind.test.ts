import { AsyncResource, executionAsyncId } from "node:async_hooks";
import { describe, expect, it } from "vitest";
import { installAsyncResourceBindWithoutDeprecatedProperty } from "./async-resource-bind.js";

describe("AsyncResource.prototype.bind without the deprecated property", () => {
  installAsyncResourceBindWithoutDeprecatedProperty();

  it("runs the function in the resource's scope with the caller's this and arguments", () => {
    const resource = new AsyncResource("test");
    const seen: unknown[] = [];
    const fn = function (this: unknown, a: number, b: number) {
      seen.push(executionAsyncId(), this, a + b);
      return "done";
    };
    const bound = resource.bind(fn);
    const receiver = { name: "receiver" };
    expect(bound.call(receiver, 2, 3)).toBe("done");
    expect(seen).toEqual([resource.asyncId(), receiver, 5]);
    expect(bound.length).toBe(2);
    expect("asyncResource" in bound).toBe(false);
  });

  it("binds thisArg when one is given, and refuses a non-function", () => {
    const resource = new AsyncResource("test");
    const self = { n: 1 };
    // @types/node leaves thisArg out of bind's signature; Node takes it.
    const bindWithThis = resource.bind.bind(resource) as unknown as (
      fn: () => unknown,
      thisArg: unknown,
    ) => () => unknown;
    const bound = bindWithThis(function (this: unknown) {
      return [this, executionAsyncId()];
    }, self);
    expect(bound()).toEqual([self, resource.asyncId()]);
    expect(() => resource.bind(42 as never)).toThrow(TypeError);
  });

  it("is what the static AsyncResource.bind uses too", () => {
    const bound = AsyncResource.bind(() => executionAsyncId());
    expect(typeof bound()).toBe("number");
    expect("asyncResource" in bound).toBe(false);
  });
});
