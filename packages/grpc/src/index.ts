export * from "./http.js";
export * from "./server.js";
