// The Connect implementation of a method served through the server: each
// call opens a loopback session, makes the NanoRPC call, and ends it.

import {
  Code,
  ConnectError,
  createContextKey,
  type HandlerContext,
} from "@connectrpc/connect";
import { type DescMessage, fromBinary, toBinary } from "@bufbuild/protobuf";
import { NanoRpcError } from "../protocol/errors.ts";
import type { Logger } from "../server/logger.ts";
import type { PeerAddress } from "../transport/byte_stream.ts";
import {
  type Loopback,
  RequestTooLargeError,
  SessionEndedError,
  SessionNotReadyError,
} from "./_loopback.ts";
import type { GatewayMethod } from "./_methods.ts";
import { connectCode } from "./status.ts";

/** What the implementation knows of the HTTP call. */
export interface CallContext {
  readonly request: Request;
  readonly remoteAddr: PeerAddress;
}

/** Where the fetch handler leaves the {@link CallContext}. */
export const CALL = createContextKey<CallContext | undefined>(undefined, {
  description: "the HTTP request of a gateway call",
});

/**
 * What a failed NanoRPC call becomes for the HTTP client. The server's
 * internal reasons go to `logger`, never into the answer.
 */
function toConnectError(
  error: unknown,
  path: string,
  logger: Logger,
): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof NanoRpcError) {
    return new ConnectError(error.message, connectCode(error.status));
  }
  if (error instanceof RequestTooLargeError) {
    return new ConnectError(error.message, Code.ResourceExhausted);
  }
  if (error instanceof SessionNotReadyError) {
    if (error.timeoutMs === undefined) {
      logger.debug(`gateway call to ${path}: ${error.reason}`);
      return new ConnectError(error.message, Code.Canceled);
    }
    logger.warn(`gateway call to ${path}: ${error.reason}`);
    return new ConnectError(error.message, Code.DeadlineExceeded);
  }
  if (error instanceof SessionEndedError) {
    logger.warn(`gateway call to ${path}: session ended: ${error.reason}`);
    return new ConnectError(error.message, Code.Unavailable);
  }
  logger.error(
    `gateway call to ${path} failed: ${
      error instanceof Error ? error.stack ?? error.message : String(error)
    }`,
  );
  return new ConnectError(
    "The gateway failed to make the call; see the server's log",
    Code.Internal,
    undefined,
    undefined,
    error,
  );
}

/** The Connect implementation of one method: a call through a session. */
export function implement(
  m: GatewayMethod,
  open: (call: CallContext | undefined, timeoutMs?: number) => Loopback,
  logger: Logger,
) {
  const input: DescMessage = m.method.input;
  const output: DescMessage = m.method.output;
  if (m.kind === "request") {
    return async (message: never, ctx: HandlerContext) => {
      // A time limit of 0 (connect-timeout-ms: 0): over before it starts.
      if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason);
      const call = open(ctx.values.get(CALL), ctx.timeoutMs());
      // A timeout (`connect-timeout-ms`) or a client that went away ends
      // the session, which ends the call.
      const stop = () => call.close("the HTTP call was aborted");
      ctx.signal.addEventListener("abort", stop, { once: true });
      try {
        const data = await call.request(m.path, toBinary(input, message));
        return fromBinary(output, data);
      } catch (error) {
        throw ctx.signal.aborted
          ? ConnectError.from(ctx.signal.reason)
          : toConnectError(error, m.path, logger);
      } finally {
        ctx.signal.removeEventListener("abort", stop);
        call.close("the call is done");
      }
    };
  }
  return async function* (
    message: never,
    ctx: HandlerContext,
  ) {
    if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason);
    const call = open(ctx.values.get(CALL), ctx.timeoutMs());
    const stop = () => call.close("the HTTP client went away");
    ctx.signal.addEventListener("abort", stop, { once: true });
    try {
      for await (
        const data of call.subscribe(m.path, toBinary(input, message))
      ) {
        yield fromBinary(output, data);
      }
    } catch (error) {
      throw ctx.signal.aborted
        ? ConnectError.from(ctx.signal.reason)
        : toConnectError(error, m.path, logger);
    } finally {
      ctx.signal.removeEventListener("abort", stop);
      stop();
    }
  };
}
