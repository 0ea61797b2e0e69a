import { ExperimentTimelineEvent } from "@tskube/api";
import { seconds } from "./stats.js";

export interface TimelineEntry {
  at: number;
  event: string;
  detail: string;
}

/** The story of one run: events at wall-clock times, printed as offsets from the (first) kill. */
export class Timeline {
  readonly entries: TimelineEntry[] = [];

  constructor(private readonly limit: number) {}

  add(at: number, event: string, detail = ""): TimelineEntry {
    const e = { at, event, detail };
    this.entries.push(e);
    return e;
  }

  first(event: string, since = Number.NEGATIVE_INFINITY): TimelineEntry | undefined {
    return this.entries.filter((e) => e.event === event && e.at >= since).sort((a, b) => a.at - b.at)[0];
  }

  /** Sorted by time; when over the limit, the first events (kills, detection) are the ones kept. */
  toStatus(killAt: number): ExperimentTimelineEvent[] {
    return [...this.entries]
      .sort((a, b) => a.at - b.at)
      .slice(0, this.limit)
      .map((e) =>
        ExperimentTimelineEvent.fromPartial({
          time: new Date(e.at).toISOString(),
          offsetSeconds: seconds(e.at - killAt),
          event: e.event,
          detail: e.detail,
        }),
      );
  }
}
