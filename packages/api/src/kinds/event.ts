import { Event } from "../gen/tskube/v1/core.js";
import { eventStrategy } from "../strategies/core.js";
import { defineKind } from "./define-kind.js";
import { age } from "./printing/age.js";
import { sectionsDescriber } from "./printing/describe-writer.js";

function eventAge(e: Event, now: number): string {
  return age(e.lastTimestamp || e.eventTime || e.firstTimestamp || e.metadata?.creationTimestamp, now);
}

export const eventKind = defineKind({
  kind: "Event",
  group: "",
  version: "v1",
  resource: "events",
  singular: "event",
  shortNames: ["ev"],
  namespaced: true,
  hasStatus: false,
  hasSpec: false,
  messageType: Event,
  strategy: eventStrategy,
  printer: {
    columns: {
      headers: ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
      wide: [],
      row: (e, now) => [
        eventAge(e, now),
        e.type,
        e.reason,
        `${(e.involvedObject?.kind ?? "").toLowerCase()}/${e.involvedObject?.name ?? ""}`,
        e.message.trim(),
      ],
      wideRow: () => [],
      withoutName: true,
    },
    describe: sectionsDescriber<Event>(true),
  },
});
