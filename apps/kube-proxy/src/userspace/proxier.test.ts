import { connect, createServer, type Server, type Socket } from "node:net";
import { silentLogger } from "@tskube/log";
import { afterEach, describe, expect, it } from "vitest";
import type { ServicePortInfo } from "../service-port.js";
import { UserspaceProxier } from "./proxier.js";

/** An upstream that answers each line with "<name>:<line>", so a reply tells who served it. */
async function upstream(name: string): Promise<Server> {
  const srv = createServer((s) => {
    s.setEncoding("utf8");
    let buf = "";
    s.on("data", (d: string) => {
      buf += d;
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        s.write(`${name}:${buf.slice(0, i)}\n`);
        buf = buf.slice(i + 1);
      }
    });
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  return srv;
}

const portOf = (s: Server) => (s.address() as { port: number }).port;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = portOf(s);
  await new Promise((r) => s.close(r));
  return port;
}

function servicePort(port: number, endpoints: number[]): ServicePortInfo {
  return {
    name: "default/web:http",
    namespace: "default",
    serviceName: "web",
    portName: "http",
    protocol: "TCP",
    clusterIp: "127.0.0.1",
    port,
    nodePort: 0,
    externalIps: [],
    loadBalancerIps: [],
    affinitySeconds: 0,
    externalLocal: false,
    endpoints: endpoints.map((p) => ({ ip: "127.0.0.1", port: p, ready: true, nodeName: "node-1" })),
  };
}

/** A client connection with a line reader: ask(line) resolves with the reply line. */
async function client(port: number) {
  const s: Socket = connect({ host: "127.0.0.1", port });
  await new Promise<void>((r, j) => {
    s.once("connect", () => r());
    s.once("error", j);
  });
  s.setEncoding("utf8");
  let buf = "";
  const waiting: ((line: string) => void)[] = [];
  const closed = new Promise<void>((r) => s.once("close", () => r()));
  s.on("data", (d: string) => {
    buf += d;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      waiting.shift()?.(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  s.on("error", () => undefined);
  return {
    ask: (line: string) =>
      new Promise<string>((r) => {
        waiting.push(r);
        s.write(`${line}\n`);
      }),
    closed,
    end: () => s.destroy(),
  };
}

describe("userspace proxier", () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it("lets a connection to an endpoint that left finish, while new connections go to the others", async () => {
    const a = await upstream("a");
    const b = await upstream("b");
    cleanup.push(
      () => new Promise((r) => a.close(r)),
      () => new Promise((r) => b.close(r)),
    );
    const proxier = new UserspaceProxier({ nodePortAddresses: [], log: silentLogger });
    cleanup.push(() => proxier.stop());
    const port = await freePort();
    await proxier.sync([servicePort(port, [portOf(a)])]);
    const inFlight = await client(port);
    cleanup.push(async () => inFlight.end());
    expect(await inFlight.ask("1")).toBe("a:1");

    // "a" is no longer a ready endpoint (its pod is terminating): it gets no new connection …
    await proxier.sync([servicePort(port, [portOf(b)])]);
    const fresh = await client(port);
    cleanup.push(async () => fresh.end());
    expect(await fresh.ask("2")).toBe("b:2");
    // … but the connection it already serves is not cut: it goes on until the client is done.
    expect(await inFlight.ask("3")).toBe("a:3");
    expect(await inFlight.ask("4")).toBe("a:4");
  });

  it("closes the connections of a service port that is removed", async () => {
    const a = await upstream("a");
    cleanup.push(() => new Promise((r) => a.close(r)));
    const proxier = new UserspaceProxier({ nodePortAddresses: [], log: silentLogger });
    cleanup.push(() => proxier.stop());
    const port = await freePort();
    await proxier.sync([servicePort(port, [portOf(a)])]);
    const c = await client(port);
    expect(await c.ask("1")).toBe("a:1");
    await proxier.sync([]);
    await c.closed;
    expect(proxier.boundAddresses()).toEqual([]);
  });
});
