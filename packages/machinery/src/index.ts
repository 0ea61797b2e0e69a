export * from "./errors.js";
export * from "./duration.js";
