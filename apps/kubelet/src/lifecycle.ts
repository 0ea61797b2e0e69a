import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Container, LifecycleHandler, Pod } from "@tskube/api";
import { resolvePort } from "./prober.js";
import type { Runtime } from "./runtime/types.js";

/** Kubernetes' format.Pod: how the kubelet names a pod in messages. */
const formatPod = (pod: Pod) => `${pod.metadata!.name}_${pod.metadata!.namespace}(${pod.metadata!.uid})`;

export interface HookTarget {
  pod: Pod;
  container: Container;
  containerId: string;
  podIp: string;
  runtime: Runtime;
}

/**
 * One GET for an httpGet hook. As Kubernetes' runHTTPHandler, only a failed exchange is a failure:
 * the status code is not looked at (a hook is a notification, not a probe), and HTTPS does not
 * verify the certificate.
 */
function hookGet(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<void> {
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: "GET",
        headers: { "User-Agent": "kube-lifecycle/tskube", ...headers },
        signal,
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        res.resume();
        res.once("end", resolve);
        res.once("error", reject);
      },
    );
    req.once("error", reject);
    req.end();
  });
}

/**
 * Kubernetes' lifecycle handlerRunner.Run for one handler (postStart or preStop): exec runs the
 * command in the container, httpGet calls the pod (host defaults to the pod IP, a named port is the
 * container's), sleep waits. Resolves when the hook is done and throws with Kubernetes' message
 * when it failed. `signal` ends a sleep or a request early (the grace period ran out); `timeoutMs`
 * bounds an exec, which the runtime kills when it is over.
 */
export async function runLifecycleHandler(
  handler: LifecycleHandler,
  target: HookTarget,
  opts: { signal: AbortSignal; timeoutMs: number },
): Promise<void> {
  const { pod, container } = target;
  if (handler.exec) {
    const command = handler.exec.command;
    const r = await target.runtime.execSync(target.containerId, command, opts.timeoutMs);
    if (r.exitCode !== 0) {
      const output = (r.stdout + r.stderr).trim();
      throw new Error(
        `Exec lifecycle hook ([${command.join(" ")}]) for Container "${container.name}" in Pod "${formatPod(pod)}" failed - error: command '${command.join(" ")}' exited with ${r.exitCode}: ${r.stderr.trim()}, message: ${JSON.stringify(output)}`,
      );
    }
    return;
  }
  if (handler.httpGet) {
    const g = handler.httpGet;
    try {
      const host = g.host || target.podIp;
      if (!host) throw new Error("failed to find networking container: the pod has no IP");
      const port = resolvePort(g.port, container);
      const scheme = (g.scheme || "HTTP").toLowerCase();
      const path = g.path.startsWith("/") ? g.path : `/${g.path}`;
      const url = new URL(`${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}${path}`);
      await hookGet(url, Object.fromEntries(g.httpHeaders.map((h) => [h.name, h.value])), opts.signal);
    } catch (err) {
      throw new Error(
        `HTTP lifecycle hook (${g.path}) for Container "${container.name}" in Pod "${formatPod(pod)}" failed - error: ${(err as Error).message}`,
      );
    }
    return;
  }
  if (handler.sleep) {
    const ms = Math.max(0, handler.sleep.seconds) * 1000;
    if (opts.signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        opts.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      opts.signal.addEventListener("abort", done, { once: true });
    });
    return;
  }
  // tcpSocket is accepted by the API for backward compatibility only; Kubernetes never runs it.
  throw new Error(
    `Cannot run handler: invalid handler: ${handler.tcpSocket ? "tcpSocket is not supported as a lifecycle handler" : "no action set"}`,
  );
}
