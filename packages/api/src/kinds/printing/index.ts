/** Rendering helpers shared by the kinds' printers and ktl's own tables. */
export { age, humanDuration } from "./age.js";
export { describePodTemplate } from "./containers.js";
export { describeEvents } from "./events.js";
export {
  experimentPhase,
  experimentTarget,
  offset,
  percent,
  recoveryAgainstTarget,
  seconds,
} from "./experiment-figures.js";
export { formatLabels } from "./format.js";
export { podReady, podRestarts, podStatus } from "./pod-status.js";
export { formatTable } from "./table.js";
export { tabwrite } from "./tabwriter.js";
