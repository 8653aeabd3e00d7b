/**
 * The browser build's stand-in for _dial_deno.ts (client/build_browser.ts
 * swaps them): a browser has no raw sockets, so only `ws://` and `wss://`
 * addresses can be dialled there.
 *
 * @module
 */

import type { ByteStream } from "../transport/byte_stream.ts";
import {
  formatAddress,
  type NetAddress,
  type SerialAddress,
  type UnixAddress,
} from "./address.ts";

/** Nothing in a browser is a Deno permission error. */
export function isPermissionError(_error: unknown): _error is Error {
  return false;
}

/** Always rejects: browsers cannot open sockets or serial lines. */
export function openNative(
  address: NetAddress | UnixAddress | SerialAddress,
): Promise<ByteStream> {
  return Promise.reject(
    new Error(
      `A browser cannot open ${
        formatAddress(address)
      }; connect to the server's WebSocket endpoint instead, e.g. ws://host:port/nanorpc`,
    ),
  );
}
