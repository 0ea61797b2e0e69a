import { timingFlags, withTimingProfile } from "@tskube/machinery";
import { afterEach, describe, expect, it } from "vitest";
import { readFlags } from "./flags.js";

const FLAGS = {
  server: { env: "TSKUBE_SERVER", default: "127.0.0.1:6443" },
  ...timingFlags("controller-manager"),
};

/** What a component's main does: the profile moves the timers' defaults, then readFlags reads. */
function read(argv: string[]) {
  const { spec, profile } = withTimingProfile("controller-manager", FLAGS, argv);
  return { profile, flags: readFlags("controller-manager", spec, argv) };
}

describe("timing profile with readFlags", () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it("gives Kubernetes' values without a profile", () => {
    delete process.env.TSKUBE_TIMING_PROFILE;
    delete process.env.TSKUBE_NODE_MONITOR_GRACE_PERIOD;
    const { profile, flags } = read([]);
    expect(profile).toBe("upstream");
    expect(flags["node-monitor-grace-period"]).toBe("50s");
    expect(flags["leader-elect-lease-duration"]).toBe("15s");
  });

  it("orders flag > env > profile > upstream for each timer", () => {
    process.env.TSKUBE_TIMING_PROFILE = "fast";
    process.env.TSKUBE_NODE_MONITOR_GRACE_PERIOD = "8s";
    const { profile, flags } = read(["--leader-elect-lease-duration", "6s"]);
    expect(profile).toBe("fast");
    expect(flags["leader-elect-lease-duration"]).toBe("6s");
    expect(flags["node-monitor-grace-period"]).toBe("8s");
    expect(flags["node-monitor-period"]).toBe("1s");
    expect(flags["timing-profile"]).toBe("fast");
    // The flag beats the environment for the profile too.
    expect(read(["--timing-profile=upstream"]).flags["node-monitor-period"]).toBe("5s");
  });

  it("refuses an unknown profile naming the flag", () => {
    process.env.TSKUBE_TIMING_PROFILE = "turbo";
    expect(() => read([])).toThrow('--timing-profile: Unsupported value: "turbo"');
  });
});
