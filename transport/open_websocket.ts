/**
 * Dialling a WebSocket as a byte stream, with a time limit and
 * cancellation. Web APIs only: it runs in Deno and in browsers.
 *
 * @module
 */

import {
  type WebSocketByteStream,
  websocketStream,
  type WebSocketStreamOptions,
} from "./websocket.ts";

/** How {@link openWebSocket} dials. */
export interface OpenWebSocketOptions extends WebSocketStreamOptions {
  /** Cancels the attempt; the socket is closed and the promise rejects. */
  signal?: AbortSignal;
  /** Milliseconds the opening handshake may take; no limit by default. */
  timeout?: number;
  /** Subprotocols to offer, as in `new WebSocket(url, protocols)`. */
  protocols?: string | string[];
}

/**
 * Opens a WebSocket to `url` and resolves with its byte stream once the
 * socket is open. A failed, timed-out or cancelled attempt rejects only
 * after its socket has closed, so no socket outlives it.
 *
 * @param url A `ws://` or `wss://` URL (`http(s)://` works too).
 * @param options Cancellation, time limit, subprotocols and the stream's
 * own options.
 * @returns The open stream.
 * @throws {Error} When the URL is invalid, the server refused or was not
 * there, the time ran out, or `signal` aborted (then `cause` is its reason).
 *
 * @example
 * ```ts ignore
 * import { openWebSocket } from "@nanorpc/nanorpc/transport";
 *
 * const stream = await openWebSocket("ws://127.0.0.1:8080/nanorpc", {
 *   timeout: 5000,
 * });
 * await stream.write(new Uint8Array([4, 8, 1, 16, 1])); // PING, request id 1
 * ```
 */
export async function openWebSocket(
  url: string | URL,
  options: OpenWebSocketOptions = {},
): Promise<WebSocketByteStream> {
  const { signal, timeout, protocols, ...streamOptions } = options;
  const where = String(url);
  signal?.throwIfAborted();
  const socket = new WebSocket(url, protocols);
  const stream = websocketStream(socket, streamOptions);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let failure: Error | undefined;
      const fail = (error: Error) => {
        failure ??= error;
        if (socket.readyState === WebSocket.CLOSED) reject(failure);
        else stream.close();
      };
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("close", (event) => {
        reject(
          failure ?? new Error(
            `The WebSocket to ${where} closed before it opened (code ${event.code}); check the URL and that the server is up`,
          ),
        );
      }, { once: true });
      if (timeout !== undefined && timeout > 0 && timeout < Infinity) {
        timer = setTimeout(
          () =>
            fail(
              new Error(
                `The WebSocket to ${where} did not open within ${timeout} ms; check that the server is up`,
              ),
            ),
          Math.min(timeout, 2 ** 31 - 1),
        );
      }
      onAbort = () =>
        fail(
          new Error(`Opening the WebSocket to ${where} was cancelled`, {
            cause: signal?.reason,
          }),
        );
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
  return stream;
}
