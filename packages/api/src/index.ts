export * from "./codec/index.js";
export * from "./gen/index.js";
export * from "./kinds/index.js";
export * as printing from "./kinds/printing/index.js";
export * from "./kinds.js";
export * from "./strategies/index.js";
export { DEFAULT_PROBE_PERIOD_SECONDS, setDefaultProbePeriodSeconds } from "./strategies/pod.js";
