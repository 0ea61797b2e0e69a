export { validateSelectorAndTemplate } from "./apps.js";
export {
  EXPERIMENT_ACTIONS,
  EXPERIMENT_DEFAULT_DURATION_SECONDS,
  EXPERIMENT_DEFAULTS,
  EXPERIMENT_HELD_ACTIONS,
  EXPERIMENT_KILL_ACTIONS,
  EXPERIMENT_LIMITS,
  EXPERIMENT_PHASES,
  EXPERIMENT_VERDICTS,
  type ExperimentAction,
} from "./chaos.js";
export { defineStrategy, resetStatus } from "./define-strategy.js";
export { validateAnnotations, validateLabels, validateObjectMeta, validateObjectMetaUpdate } from "./meta.js";
export { defaultPodSpec, validatePodSpec } from "./pod.js";
export { validateLabelSelector } from "./selector.js";
export type { Strategy } from "./types.js";
