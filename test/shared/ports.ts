import { createServer } from "node:net";

/**
 * A loopback TCP port that is free now and stays free of the kernel's own picks: chosen from
 * 20000–29999, below the ephemeral range (32768–60999 on Linux) and the NodePort range
 * (30000–32767). A port taken by listen(0) and closed again is an ephemeral one, which any outgoing
 * connection (a client to etcd, a kubelet to the apiserver) may take before the process it was
 * meant for binds it. No port is handed out twice by one test process.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${LOW}-${HIGH} after 200 attempts`);
}

const LOW = 20_000;
const HIGH = 29_999;
const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}
