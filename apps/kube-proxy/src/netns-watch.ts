import { networkInterfaces } from "node:os";
import type { Logger } from "@tskube/log";

/** The interfaces of this process's network namespace other than loopback, by name. */
export function nonLoopbackInterfaces(
  interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(),
): string[] {
  return Object.entries(interfaces)
    .filter(([, addrs]) => (addrs ?? []).some((a) => !a.internal))
    .map(([name]) => name);
}

/**
 * Calls onLost once every interface but loopback has been gone from the network namespace for
 * graceMs, having been there at the start. kube-proxy shares its node's namespace (hostNetwork):
 * when the node's container restarts it gets a new namespace, and the old one, kept alive only by
 * this process, is left with lo alone, where rules serve nobody. Exiting lets the restart policy
 * start kube-proxy again in the node's current namespace. The grace lets a crashed node's container
 * come back first: Docker gives up restarting a container whose namespace owner is not running.
 * Returns a function that stops watching.
 */
export function watchNetworkNamespace(opts: {
  periodMs: number;
  graceMs: number;
  log: Logger;
  onLost: () => void;
  interfaces?: () => string[];
}): () => void {
  const list = opts.interfaces ?? (() => nonLoopbackInterfaces());
  const atStart = list();
  if (atStart.length === 0) return () => {};
  let goneSince: number | undefined;
  const timer = setInterval(() => {
    if (list().length > 0) {
      goneSince = undefined;
      return;
    }
    const now = Date.now();
    if (goneSince === undefined) {
      goneSince = now;
      opts.log.warn({ interfacesAtStart: atStart }, "every network interface but loopback has gone");
    }
    if (now - goneSince < opts.graceMs) return;
    clearInterval(timer);
    opts.log.error(
      { interfacesAtStart: atStart, goneForMs: now - goneSince },
      "this network namespace's owner has restarted: leaving the namespace",
    );
    opts.onLost();
  }, opts.periodMs);
  timer.unref();
  return () => clearInterval(timer);
}
