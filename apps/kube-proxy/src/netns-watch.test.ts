import { silentLogger } from "@tskube/log";
import { afterEach, describe, expect, it, vi } from "vitest";
import { nonLoopbackInterfaces, watchNetworkNamespace } from "./netns-watch.js";

const addr = (address: string, internal: boolean) => ({
  address,
  internal,
  family: "IPv4" as const,
  netmask: "255.0.0.0",
  mac: "00:00:00:00:00:00",
  cidr: `${address}/8`,
});

/** Watches with a 1 s period and a 3 s grace; returns the onLost spy. */
function watching(interfaces: () => string[]) {
  const onLost = vi.fn();
  watchNetworkNamespace({ periodMs: 1000, graceMs: 3000, log: silentLogger, onLost, interfaces });
  return onLost;
}

describe("watchNetworkNamespace", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("lists the interfaces that have an address other than loopback's", () => {
    expect(
      nonLoopbackInterfaces({ lo: [addr("127.0.0.1", true)], eth0: [addr("172.28.0.5", false)], eth1: [] }),
    ).toEqual(["eth0"]);
  });

  it("reports once when the namespace has had loopback alone for the grace period", () => {
    vi.useFakeTimers();
    let now = ["eth0"];
    const onLost = watching(() => now);
    vi.advanceTimersByTime(5000);
    now = [];
    vi.advanceTimersByTime(3000);
    expect(onLost).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1000);
    vi.advanceTimersByTime(5000);
    expect(onLost).toHaveBeenCalledTimes(1);
  });

  it("forgets a loss that ends within the grace period", () => {
    vi.useFakeTimers();
    let now: string[] = ["eth0"];
    const onLost = watching(() => now);
    now = [];
    vi.advanceTimersByTime(2000);
    now = ["eth0"];
    vi.advanceTimersByTime(1000);
    now = [];
    vi.advanceTimersByTime(3000);
    expect(onLost).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1000);
    expect(onLost).toHaveBeenCalledTimes(1);
  });

  it("does not watch a namespace that had only loopback to begin with, and stops when told", () => {
    vi.useFakeTimers();
    const onLost = vi.fn();
    watchNetworkNamespace({ periodMs: 1000, graceMs: 0, log: silentLogger, onLost, interfaces: () => [] });
    let now = ["eth0"];
    const stop = watchNetworkNamespace({
      periodMs: 1000,
      graceMs: 0,
      log: silentLogger,
      onLost,
      interfaces: () => now,
    });
    stop();
    now = [];
    vi.advanceTimersByTime(5000);
    expect(onLost).not.toHaveBeenCalled();
  });
});
