import { Lease } from "../gen/tskube/v1/coordination.js";
import { leaseStrategy } from "../strategies/core.js";
import { defineKind } from "./define-kind.js";
import { age } from "./printing/age.js";
import { sectionsDescriber } from "./printing/describe-writer.js";

export const leaseKind = defineKind({
  kind: "Lease",
  group: "coordination.k8s.io",
  version: "v1",
  resource: "leases",
  singular: "lease",
  shortNames: [],
  namespaced: true,
  hasStatus: false,
  hasSpec: true,
  messageType: Lease,
  strategy: leaseStrategy,
  printer: {
    columns: {
      headers: ["HOLDER", "AGE"],
      wide: [],
      row: (l, now) => [l.spec?.holderIdentity ?? "", age(l.metadata?.creationTimestamp, now)],
      wideRow: () => [],
    },
    describe: sectionsDescriber<Lease>(true),
  },
});
