export * from "./codec/index.js";
export * from "./gen/index.js";
export * from "./kinds.js";
export * from "./strategies/index.js";
