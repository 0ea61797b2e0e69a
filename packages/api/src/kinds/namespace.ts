import { Namespace } from "../gen/tskube/v1/core.js";
import { namespaceStrategy } from "../strategies/core.js";
import { defineKind } from "./define-kind.js";
import { age } from "./printing/age.js";
import { sectionsDescriber } from "./printing/describe-writer.js";

export const namespaceKind = defineKind({
  kind: "Namespace",
  group: "",
  version: "v1",
  resource: "namespaces",
  singular: "namespace",
  shortNames: ["ns"],
  namespaced: false,
  hasStatus: true,
  hasSpec: true,
  messageType: Namespace,
  strategy: namespaceStrategy,
  printer: {
    columns: {
      headers: ["STATUS", "AGE"],
      wide: [],
      row: (n, now) => [n.status?.phase ?? "", age(n.metadata?.creationTimestamp, now)],
      wideRow: () => [],
    },
    describe: sectionsDescriber<Namespace>(false, (w, ns) => {
      w.line(0, "Status", ns.status?.phase ?? "");
    }),
  },
});
