import type { Event } from "../../gen/tskube/v1/core.js";
import { age } from "./age.js";
import { tabwrite } from "./tabwriter.js";

/**
 * kubectl's DescribeEvents: `Events:  <none>` in the block above, or its own table (the writer is
 * flushed first, so the events align only among themselves), oldest last-seen first.
 */
export function describeEvents(events: readonly Event[], now: number): { inline: string; table: string } {
  if (!events.length) return { inline: "Events:\t<none>\n", table: "" };
  const rows = [...events]
    .sort((a, b) => Date.parse(a.lastTimestamp || "0") - Date.parse(b.lastTimestamp || "0"))
    .map((e) => {
      const first = age(e.eventTime || e.firstTimestamp, now);
      const interval = e.count > 1 ? `${age(e.lastTimestamp, now)} (x${e.count} over ${first})` : first;
      const from = e.source?.component || e.reportingComponent;
      return `  ${e.type}\t${e.reason}\t${interval}\t${from}\t${e.message.trim()}\n`;
    });
  return {
    inline: "",
    table: tabwrite(
      `Events:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n${rows.join("")}`,
    ),
  };
}
