import { createServer, type Server } from "node:net";
import { PortForwardRequest, type PortForwardResponse } from "@tskube/api";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";

function parsePorts(spec: string): { local: number; remote: number } {
  const [a, b] = spec.split(":");
  const local = Number(a || b);
  const remote = Number(b ?? a);
  if (
    !Number.isInteger(remote) ||
    remote < 1 ||
    remote > 65535 ||
    !Number.isInteger(local) ||
    local < 0 ||
    local > 65535
  ) {
    throw new UsageError(`invalid port specification: ${JSON.stringify(spec)}`);
  }
  return { local, remote };
}

/**
 * `ktl port-forward POD [LOCAL:]REMOTE...`: listens locally and carries each connection to the
 * pod's port through the apiserver and the pod's kubelet, until Ctrl-C.
 */
export async function portForward(
  ctx: Context,
  target: string,
  specs: string[],
  flags: { address: string },
): Promise<void> {
  const [type, maybeName] = target.includes("/") ? target.split("/") : ["pod", target];
  if (!maybeName || !["pod", "pods", "po"].includes(type!))
    throw new UsageError(`cannot port-forward to ${target}: only pods here`);
  const name = maybeName;
  if (specs.length === 0) throw new UsageError("at least 1 PORT is required for port-forward");
  const servers: Server[] = [];
  for (const spec of specs) {
    const { local, remote } = parsePorts(spec);
    const server = createServer((socket) => {
      ctx.out(`Handling connection for ${local}\n`);
      const stream = ctx.client().portForward();
      stream.write(PortForwardRequest.fromPartial({ namespace: ctx.namespace, name, port: remote }));
      socket.on("data", (d: Buffer) => stream.write(PortForwardRequest.fromPartial({ data: d })));
      socket.on("end", () => stream.end());
      socket.on("error", () => stream.cancel());
      stream.on("data", (m: PortForwardResponse) => socket.write(m.data));
      stream.on("end", () => socket.end());
      stream.on("error", (err: Error & { details?: string }) => {
        process.stderr.write(`error: ${err.details ?? err.message}\n`);
        socket.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(local, flags.address, () => resolve());
    });
    const addr = server.address();
    const port = typeof addr === "object" && addr ? addr.port : local;
    ctx.out(`Forwarding from ${flags.address}:${port} -> ${remote}\n`);
    servers.push(server);
  }
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  for (const s of servers) s.close();
}
