import { describe, expect, it } from "vitest";
import { intToIp, ipToInt, PodNetwork } from "./netns.js";

describe("PodNetwork", () => {
  it("derives the gateway from the pod CIDR and keeps interface names within 15 bytes", () => {
    const n = new PodNetwork("a-very-long-node-name.with.dots.example.com", "10.244.3.0/24");
    expect(n.gateway).toBe("10.244.3.1");
    expect(n.prefixLength).toBe(24);
    expect(n.bridge).toMatch(/^tsk-[0-9a-f]{10}$/);
    expect(n.bridge.length).toBeLessThanOrEqual(15);
    expect(n.vethName("0123456789abcdef").length).toBeLessThanOrEqual(15);
    expect(n.netnsName("0123456789abcdef")).toMatch(/^tskube-[0-9a-f]{10}-0123456789abcdef$/);
  });

  it("names bridges and namespaces apart per node, so each kubelet cleans up only its own", () => {
    const a = new PodNetwork("node-1", "10.244.1.0/24");
    const b = new PodNetwork("node-2", "10.244.2.0/24");
    expect(a.bridge).not.toBe(b.bridge);
    expect(a.netnsName("x")).not.toBe(b.netnsName("x"));
  });

  it("converts addresses without sign trouble at the top of the range", () => {
    expect(ipToInt("255.255.255.254")).toBe(4294967294);
    expect(intToIp(ipToInt("10.244.255.1") + 1)).toBe("10.244.255.2");
  });
});
