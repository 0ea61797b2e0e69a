import { Secret } from "../gen/tskube/v1/core.js";
import { secretStrategy } from "../strategies/core.js";
import { defineKind } from "./define-kind.js";
import { age } from "./printing/age.js";
import { sectionsDescriber } from "./printing/describe-writer.js";

export const secretKind = defineKind({
  kind: "Secret",
  group: "",
  version: "v1",
  resource: "secrets",
  singular: "secret",
  shortNames: [],
  namespaced: true,
  hasStatus: false,
  hasSpec: false,
  messageType: Secret,
  strategy: secretStrategy,
  printer: {
    columns: {
      headers: ["TYPE", "DATA", "AGE"],
      wide: [],
      row: (s, now) => [s.type, String(Object.keys(s.data).length), age(s.metadata?.creationTimestamp, now)],
      wideRow: () => [],
    },
    describe: sectionsDescriber<Secret>(true),
  },
});
