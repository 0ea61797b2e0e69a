import { type Client, connectivityState } from "@grpc/grpc-js";
import { errors } from "@tskube/machinery";

/**
 * Resolves once the channel is READY. A refused connection (TRANSIENT_FAILURE) rejects at once and
 * a connect that hangs (a black-holed address: SYNs dropped, no RST) rejects after timeoutMs, both
 * as ServiceUnavailable, so the caller moves to the next apiserver instead of spending the whole
 * call deadline on a server it never reached.
 */
export function waitForConnection(
  channel: Pick<ReturnType<Client["getChannel"]>, "getConnectivityState" | "watchConnectivityState">,
  address: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = () => {
      const state = channel.getConnectivityState(true);
      if (state === connectivityState.READY) return resolve();
      if (state === connectivityState.TRANSIENT_FAILURE || state === connectivityState.SHUTDOWN)
        return reject(errors.serviceUnavailable(`cannot connect to apiserver ${address}`));
      channel.watchConnectivityState(state, deadline, (err) =>
        err
          ? reject(
              errors.serviceUnavailable(`timed out after ${timeoutMs}ms connecting to apiserver ${address}`),
            )
          : check(),
      );
    };
    check();
  });
}
