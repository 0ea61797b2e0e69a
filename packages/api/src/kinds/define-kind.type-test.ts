/**
 * Compile-time checks of defineKind, run by `tsc -b` (not a vitest file): each `@ts-expect-error`
 * fails the typecheck if the declaration below it stops being an error.
 */
import { ConfigMap } from "../gen/tskube/v1/core.js";
import { configMapStrategy } from "../strategies/core.js";
import { podStrategy } from "../strategies/pod.js";
import { configMapKind } from "./config-map.js";
import { defineKind, type KindDefinition } from "./define-kind.js";
import { sectionsDescriber } from "./printing/describe-writer.js";

const identity = {
  kind: "Widget",
  group: "example.tskube.io",
  version: "v1",
  resource: "widgets",
  singular: "widget",
  shortNames: [],
  namespaced: true,
  hasStatus: false,
  hasSpec: false,
  messageType: ConfigMap,
} as const;

const columns = {
  headers: ["DATA", "AGE"],
  wide: [],
  row: () => ["0", "1s"],
  wideRow: () => [],
};

/** A complete declaration compiles. */
export const complete: KindDefinition<ConfigMap> = defineKind({
  ...identity,
  strategy: configMapStrategy,
  printer: { columns, describe: sectionsDescriber<ConfigMap>(true) },
});

/** No printer: `ktl get` would have nothing to print. */
// @ts-expect-error printer is required
export const noPrinter = defineKind({ ...identity, strategy: configMapStrategy });

/** No strategy: the registry could neither default nor validate it. */
// @ts-expect-error strategy is required
export const noStrategy = defineKind({
  ...identity,
  printer: { columns, describe: sectionsDescriber(true) },
});

/** Columns without a describer. */
export const noDescribe = defineKind({
  ...identity,
  strategy: configMapStrategy,
  // @ts-expect-error printer.describe is required
  printer: { columns },
});

/** A strategy written for another message. */
export const wrongStrategy = defineKind({
  ...identity,
  // @ts-expect-error a Pod strategy cannot serve ConfigMaps
  strategy: podStrategy,
  printer: { columns, describe: sectionsDescriber<ConfigMap>(true) },
});

/** The table itself admits only complete declarations. */
export const table: readonly KindDefinition[] = [
  configMapKind,
  // @ts-expect-error an entry without strategy and printer is not a KindDefinition
  { ...identity },
];
