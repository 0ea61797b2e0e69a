export * from "./duration.js";
export * from "./errors.js";
export * from "./fields.js";
export * from "./intstr.js";
export * from "./labels.js";
export * from "./quantity.js";
export * from "./timing.js";
export * from "./validation.js";
