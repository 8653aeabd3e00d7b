/**
 * Opening the byte stream to a server: TCP, TLS, a UNIX socket or a serial
 * line (through _dial_deno.ts), a WebSocket, or the caller's own dialer,
 * with a time limit and cancellation.
 *
 * @module
 */

import type { ByteStream } from "../transport/byte_stream.ts";
import { guardStream } from "../transport/_guarded_stream.ts";
import { openWebSocket } from "../transport/open_websocket.ts";
import { type Address, formatAddress, type StreamAddress } from "./address.ts";
import { isPermissionError, openNative } from "./_dial_deno.ts";
import { ConnectionClosedError, NotConnectedError } from "./errors.ts";
import { clampDelay } from "./_timer.ts";
import type { TlsOptions } from "./options.ts";
import { defaultMaxBufferedIn } from "../transport/_inbound.ts";

/** How one connection attempt is bounded. */
export interface DialOptions extends TlsOptions {
  /** Milliseconds the attempt may take; 0 or `Infinity` for no limit. */
  timeout: number;
  /** Aborts when the client closes: the attempt is cancelled. */
  signal: AbortSignal;
  /**
   * The largest frame the client takes. A WebSocket (which has no
   * backpressure on what it receives) keeps at most twice it unread, and
   * at least 64 KiB more than it: the server packs frames into messages of
   * up to 64 KiB.
   */
  maxMessageSize?: number;
  /** WebSocket subprotocols to offer (`ws://` and `wss://` only). */
  protocols?: string[];
}

export { isPermissionError };

/**
 * Connects to `address`. The attempt gets its own signal (the client's,
 * combined with the time limit) and is cancelled by it at every step: the
 * TCP connect and the WebSocket handshake take the signal, and a TLS
 * handshake in progress is stopped by closing its socket. It settles only
 * once the attempt is over, so no socket outlives a failed or cancelled
 * attempt; a caller's own dialer that ignores the signal is given up on
 * when it aborts, and the stream it brings later is closed.
 *
 * @throws {ConnectionClosedError} When `signal` aborted.
 * @throws {NotConnectedError} When the attempt failed or ran out of time.
 */
export async function dial(
  address: Address,
  options: DialOptions,
): Promise<ByteStream> {
  const { timeout, signal: closed } = options;
  const signal = timeout > 0 && timeout < Infinity
    ? AbortSignal.any([closed, AbortSignal.timeout(clampDelay(timeout))])
    : closed;
  try {
    signal.throwIfAborted();
    const stream = await open(address, options, signal);
    if (signal.aborted) {
      stream.close();
      signal.throwIfAborted();
    }
    return stream;
  } catch (error) {
    if (closed.aborted) {
      throw new ConnectionClosedError("Client closed while connecting");
    }
    const where = formatAddress(address);
    if (signal.aborted) {
      throw new NotConnectedError(
        `Could not connect to ${where} within ${timeout} ms; check that the server is up`,
      );
    }
    if (isPermissionError(error)) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new NotConnectedError(`Could not connect to ${where}: ${reason}`, {
      cause: error,
    });
  }
}

async function open(
  address: Address,
  options: DialOptions,
  signal: AbortSignal,
): Promise<ByteStream> {
  if (address.transport === "stream") return await dialStream(address, signal);
  if ("url" in address) {
    return await openWebSocket(address.url, {
      signal,
      protocols: options.protocols,
      maxBufferedIn: options.maxMessageSize === undefined
        ? undefined
        : defaultMaxBufferedIn(options.maxMessageSize),
    });
  }
  return await openNative(address, options, signal);
}

/**
 * Calls the caller's own dialer, which may ignore `signal`: the attempt
 * ends when the signal aborts all the same, and a stream that arrives
 * after that is closed, not leaked.
 */
function dialStream(
  address: StreamAddress,
  signal: AbortSignal,
): Promise<ByteStream> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      settled = true;
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const done = () => signal.removeEventListener("abort", onAbort);
    new Promise<ByteStream>((r) => r(address.dial(signal))).then((given) => {
      done();
      // The caller's own stream: closing it must not throw here either.
      const stream = guardStream(given);
      if (settled) stream.close("the connection attempt was given up");
      else resolve(stream);
    }, (error) => {
      done();
      reject(error);
    });
  });
}

/** `error` if it is an Error, else an Error saying what it is. */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
