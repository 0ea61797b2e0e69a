export * from "./clock.js";
export * from "./controller.js";
export * from "./event-recorder.js";
export * from "./informer.js";
export * from "./leader-elector.js";
export * from "./rate-limiter.js";
export * from "./store.js";
export * from "./workqueue.js";
