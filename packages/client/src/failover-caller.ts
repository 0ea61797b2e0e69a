import type { UnaryChannel, UnaryMethod } from "@tskube/grpc/unary-channel";
import type { ApiError } from "@tskube/machinery";
import { fromServiceError, isRetriable, neverProcessed } from "./errors.js";
import { ambiguousWrite, type CallPolicy, type Judgement, type WritePolicy } from "./write-outcome.js";

export interface FailoverCallerOptions {
  /** Attempts after the first, over all servers. */
  retries: number;
  /** Deadline of one attempt. */
  timeoutMs: number;
}

/**
 * Unary calls over one channel per apiserver: calls go to the current one, and a failure of the
 * connection moves every later call to the next. Whether the failed call itself is sent again is
 * its policy's to say (see CallPolicy): a read always is; a write only if the apiserver provably
 * never processed it, or if its judge, reading the object, says so.
 */
export class FailoverCaller {
  current = 0;

  constructor(
    private readonly channels: readonly Pick<UnaryChannel, "call">[],
    private readonly opts: FailoverCallerOptions,
  ) {}

  /** The server at `from` failed: later calls go to the next one (unless a call moved on already). */
  failover(from: number): void {
    if (this.current === from) this.current = (this.current + 1) % this.channels.length;
  }

  async call<Req, Res>(
    method: UnaryMethod<Req, Res>,
    req: Req,
    policy: CallPolicy<Res>,
    signal?: AbortSignal,
  ): Promise<Res> {
    const { retries, timeoutMs } = this.opts;
    let lastErr: unknown;
    // The failure that left an earlier attempt of this write maybe applied.
    let lost: unknown;
    for (let attempt = 0; attempt <= retries; attempt++) {
      signal?.throwIfAborted();
      const index = this.current;
      try {
        return await this.channels[index]!.call(method, req, { deadline: Date.now() + timeoutMs, signal });
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        lastErr = err;
        if (!isRetriable(err)) {
          const rejection = fromServiceError(err);
          if (lost === undefined || policy === "idempotent" || !policy.judge) throw rejection;
          // The earlier attempt may have landed after all: a Conflict or AlreadyExists may be its own.
          const j = await judged(policy, rejection);
          if (j.outcome === "applied") return j.response;
          throw j.outcome === "unknown" ? ambiguousWrite(policy, lost, j.why) : rejection;
        }
        this.failover(index);
        if (policy !== "idempotent" && !neverProcessed(err)) {
          if (!policy.judge) throw ambiguousWrite(policy, err);
          lost = err;
          const j = await judged(policy);
          if (j.outcome === "applied") return j.response;
          if (j.outcome === "unknown") throw ambiguousWrite(policy, err, j.why);
        }
        // Every address was tried once: back off before the next round.
        if ((attempt + 1) % this.channels.length === 0 && attempt < retries)
          await sleep(Math.min(100 * 2 ** Math.floor(attempt / this.channels.length), 2_000));
      }
    }
    if (lost !== undefined && policy !== "idempotent")
      throw ambiguousWrite(
        policy,
        lost,
        `no apiserver answered it again (${fromServiceError(lastErr).message})`,
      );
    throw fromServiceError(lastErr);
  }
}

/** The judge's verdict; a judge that cannot read the object leaves the outcome unknown. */
async function judged<Res>(policy: WritePolicy<Res>, rejection?: ApiError): Promise<Judgement<Res>> {
  try {
    return await policy.judge!(rejection);
  } catch (err) {
    return { outcome: "unknown", why: `re-reading the object failed (${fromServiceError(err).message})` };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
