/**
 * How outcomes cross the gateway: NanoRPC statuses as Connect codes (the
 * Connect face), and an upstream's Connect errors as NanoRPC status
 * errors (forwarding).
 *
 * @module
 */

import { Code, ConnectError } from "@connectrpc/connect";
import {
  InternalError,
  type NanoRpcError,
  NotAuthorizedError,
  NotFoundError,
} from "../protocol/errors.ts";
import { Status } from "../wasm/wire.ts";

/**
 * Connect's code for a NanoRPC status: NOT_FOUND -> `not_found`,
 * NOT_AUTHORIZED -> `permission_denied`, INTERNAL_ERROR -> `internal`,
 * anything else -> `unknown`.
 *
 * @param status A NanoRPC response status.
 * @returns The Connect code.
 *
 * @example
 * ```ts
 * import { Code } from "@connectrpc/connect";
 * import { connectCode } from "@nanorpc/nanorpc/gateway";
 * import { Status } from "@nanorpc/nanorpc";
 *
 * console.log(connectCode(Status.NOT_FOUND) === Code.NotFound); // true
 * ```
 */
export function connectCode(status: number): Code {
  switch (status) {
    case Status.NOT_FOUND:
      return Code.NotFound;
    case Status.NOT_AUTHORIZED:
      return Code.PermissionDenied;
    case Status.INTERNAL_ERROR:
      return Code.Internal;
    default:
      return Code.Unknown;
  }
}

/**
 * What a failed upstream call becomes for the NanoRPC caller: `not_found`
 * -> NOT_FOUND; `permission_denied` and `unauthenticated` ->
 * NOT_AUTHORIZED; anything else -> INTERNAL_ERROR naming the code.
 *
 * @param error What the connect-es client threw.
 * @param url The upstream's URL, for the message.
 * @returns The error to throw from the handler.
 *
 * @example
 * ```ts
 * import { Code, ConnectError } from "@connectrpc/connect";
 * import { nanoRpcError } from "@nanorpc/nanorpc/gateway";
 *
 * const error = nanoRpcError(new ConnectError("no", Code.NotFound), "https://api.example");
 * console.log(error.status); // 2 (NOT_FOUND)
 * ```
 */
export function nanoRpcError(error: unknown, url: string): NanoRpcError {
  const e = ConnectError.from(error);
  const message = e.code === Code.Unknown && e.cause instanceof TypeError
    ? `Upstream ${url} could not be reached (${e.cause.message}): check that it is up and the URL is right`
    : `Upstream ${url} answered ${Code[e.code]}: ${e.rawMessage}`;
  switch (e.code) {
    case Code.NotFound:
      return new NotFoundError(message);
    case Code.PermissionDenied:
    case Code.Unauthenticated:
      return new NotAuthorizedError(message);
    default:
      return new InternalError(message);
  }
}
