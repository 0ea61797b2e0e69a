export * from "./errors.js";
export * from "./flags.js";
export * from "./http.js";
export * from "./server.js";
export * from "./unary-channel.js";
