export * from "./gen/index.js";
export * from "./kinds.js";
