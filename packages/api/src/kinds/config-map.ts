import { ConfigMap } from "../gen/tskube/v1/core.js";
import { configMapStrategy } from "../strategies/core.js";
import { defineKind } from "./define-kind.js";
import { age } from "./printing/age.js";
import { sectionsDescriber } from "./printing/describe-writer.js";

export const configMapKind = defineKind({
  kind: "ConfigMap",
  group: "",
  version: "v1",
  resource: "configmaps",
  singular: "configmap",
  shortNames: ["cm"],
  namespaced: true,
  hasStatus: false,
  hasSpec: false,
  messageType: ConfigMap,
  strategy: configMapStrategy,
  printer: {
    columns: {
      headers: ["DATA", "AGE"],
      wide: [],
      row: (c, now) => [
        String(Object.keys(c.data).length + Object.keys(c.binaryData).length),
        age(c.metadata?.creationTimestamp, now),
      ],
      wideRow: () => [],
    },
    describe: sectionsDescriber<ConfigMap>(true),
  },
});
