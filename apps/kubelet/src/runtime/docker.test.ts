import { describe, expect, it } from "vitest";
import {
  addressInSubnets,
  containerCreateOptions,
  demux,
  demuxer,
  sandboxCreateOptions,
  serviceRouteCommand,
} from "./docker.js";
import type { ContainerConfig, SandboxConfig } from "./types.js";

/** One frame of Docker's multiplexed stream: stream type, 3 zero bytes, big-endian size, payload. */
function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe("Docker stream demultiplexing", () => {
  it("splits a whole buffer into stdout, stderr and both in order", () => {
    const { stdout, stderr, all } = demux(
      Buffer.concat([frame(1, "out1 "), frame(2, "err "), frame(1, "out2")]),
    );
    expect(stdout.toString()).toBe("out1 out2");
    expect(stderr.toString()).toBe("err ");
    expect(all.toString()).toBe("out1 err out2");
  });

  it("follows frames across chunk boundaries, headers split too", () => {
    const out: string[] = [];
    const err: string[] = [];
    const feed = demuxer(
      (d) => out.push(d.toString()),
      (d) => err.push(d.toString()),
    );
    const bytes = Buffer.concat([frame(1, "hello "), frame(2, "oops"), frame(1, "world")]);
    // One byte at a time: every split point, including inside the 8-byte headers.
    for (let i = 0; i < bytes.length; i++) feed(bytes.subarray(i, i + 1));
    expect(out.join("")).toBe("hello world");
    expect(err.join("")).toBe("oops");
    expect(out).toEqual(["hello ", "world"]);
  });
});

describe("pod sandboxes and the service route", () => {
  const base = {
    nodeName: "node-1",
    clusterName: "tskube",
    network: "tskube",
    sandboxImage: "busybox:1.36",
  };
  const sandbox: SandboxConfig = {
    podUid: "uid-1",
    name: "web",
    namespace: "default",
    hostname: "web",
    labels: { "io.tskube.pod.uid": "uid-1" },
  };
  const container: ContainerConfig = {
    name: "app",
    image: "busybox:1.36",
    command: ["httpd"],
    args: ["-f"],
    env: [],
    workingDir: "",
    mounts: [],
    labels: {},
  };

  it("gives the sandbox NET_ADMIN only when it routes the service range", () => {
    const routed = sandboxCreateOptions({ ...base, serviceClusterIpRange: "10.96.0.0/12" }, sandbox);
    expect(routed.HostConfig?.CapAdd).toEqual(["NET_ADMIN"]);
    expect(routed.HostConfig?.NetworkMode).toBe("tskube");
    expect(routed.Entrypoint).toEqual(["sleep"]);
    for (const range of [undefined, ""]) {
      const plain = sandboxCreateOptions({ ...base, serviceClusterIpRange: range }, sandbox);
      expect(plain.HostConfig?.CapAdd, `serviceClusterIpRange ${range}`).toBeUndefined();
    }
  });

  it("never gives a pod's containers NET_ADMIN: they join the sandbox's namespace as they are", () => {
    const c = containerCreateOptions(base, "sandbox-id", container);
    expect(c.HostConfig?.NetworkMode).toBe("container:sandbox-id");
    expect(c.HostConfig?.CapAdd).toBeUndefined();
    expect(c.HostConfig?.Privileged).toBeUndefined();
    expect(c.Entrypoint).toEqual(["httpd"]);
    expect(c.Cmd).toEqual(["-f"]);
  });

  it("replaces the route, so setting it again in an adopted sandbox is no error", () => {
    expect(serviceRouteCommand("10.96.0.0/12", "172.28.128.3")).toEqual([
      "ip",
      "route",
      "replace",
      "10.96.0.0/12",
      "via",
      "172.28.128.3",
    ]);
  });

  it("finds the node's own address on the pods network among its interface addresses", () => {
    const local = ["127.0.0.1", "::1", "fe80::1", "192.168.1.5", "172.28.128.7"];
    expect(addressInSubnets(local, ["172.28.0.0/16"])).toBe("172.28.128.7");
    // An IPv6 subnet is skipped; the first IPv4 subnet with a local address wins.
    expect(addressInSubnets(local, ["fd00::/64", "10.0.0.0/8", "192.168.0.0/16"])).toBe("192.168.1.5");
    // Edges: the subnet's first and last addresses are in it, the next one is not.
    expect(addressInSubnets(["10.200.0.0"], ["10.200.0.0/16"])).toBe("10.200.0.0");
    expect(addressInSubnets(["10.200.255.255"], ["10.200.0.0/16"])).toBe("10.200.255.255");
    expect(addressInSubnets(["10.201.0.0", "10.199.255.255"], ["10.200.0.0/16"])).toBeUndefined();
    expect(addressInSubnets(["172.28.128.7"], [])).toBeUndefined();
  });
});
