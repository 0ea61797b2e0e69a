import { AsyncResource } from "node:async_hooks";

const NODE_MAJOR = Number(process.versions.node.split(".")[0]);
let installed = false;

/**
 * Node before 25 gives every function bound with AsyncResource.prototype.bind a deprecated
 * `asyncResource` accessor pair, each wrapped by util.deprecate (DEP0172; Node 25 removed the
 * property). http2's ClientHttp2Session.request binds one function per request, and on Node 20
 * here that bind took ~70 µs against ~2 µs without the accessors: about 5 % of the apiserver's CPU
 * per write, since each write is an etcd request. This installs the binding Node 25 ships — the
 * same function, scope and `length`, without the deprecated property — once per process, on the
 * Node versions that still have the slow one. Nothing in this project reads `asyncResource`.
 */
export function installAsyncResourceBindWithoutDeprecatedProperty(): void {
  if (installed || NODE_MAJOR >= 25) return;
  installed = true;
  AsyncResource.prototype.bind = function bind<Func extends (...args: never[]) => unknown>(
    this: AsyncResource,
    fn: Func,
    thisArg?: unknown,
  ): Func {
    if (typeof fn !== "function")
      throw new TypeError(`The "fn" argument must be of type function. Received ${typeof fn}`);
    let bound: (...args: unknown[]) => unknown;
    if (thisArg === undefined) {
      const resource = this;
      bound = function (this: unknown, ...args: unknown[]) {
        return resource.runInAsyncScope(fn as never, this, ...(args as never[]));
      };
    } else {
      bound = this.runInAsyncScope.bind(this, fn as never, thisArg);
    }
    Object.defineProperty(bound, "length", {
      configurable: true,
      enumerable: false,
      value: fn.length,
      writable: false,
    });
    return bound as unknown as Func;
  } as typeof AsyncResource.prototype.bind;
}
