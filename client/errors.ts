/**
 * Errors the client raises by itself, not the server: connection lost or
 * closed, not connected, timed out, malformed responses. They are siblings
 * of the status errors (`NanoRpcError` and its subclasses), which stand for
 * a status the server answered.
 *
 * @module
 */

export {
  errorFromStatus,
  InternalError,
  NanoRpcError,
  type NanoRpcErrorOptions,
  NotAuthorizedError,
  NotFoundError,
} from "../protocol/errors.ts";

/**
 * Base class of errors the client raises itself, not the server. It is not
 * a `NanoRpcError`: no status was answered.
 *
 * @example
 * ```ts
 * import { ClientError } from "@nanorpc/nanorpc";
 *
 * try {
 *   throw new ClientError("Something went wrong locally");
 * } catch (error) {
 *   if (error instanceof ClientError) console.log("local failure");
 * }
 * ```
 */
export class ClientError extends Error {
  /**
   * Creates the error.
   *
   * @param message What went wrong and what to do.
   * @param options Standard error options such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ClientError";
  }
}

/**
 * The connection dropped while the request was in flight; the server may or
 * may not have run it. Retry only if the request is idempotent.
 *
 * @example
 * ```ts
 * import { ConnectionLostError } from "@nanorpc/nanorpc";
 *
 * const error = new ConnectionLostError();
 * console.log(error.message);
 * ```
 */
export class ConnectionLostError extends ClientError {
  /**
   * Creates the error.
   *
   * @param message Defaults to a message naming the usual remedy.
   * @param options Standard error options such as `cause`.
   */
  constructor(
    message =
      "Connection lost while the request was in flight; retry it if it is idempotent",
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ConnectionLostError";
  }
}

/**
 * The client was closed (or never connected and gave up) before the request
 * completed.
 *
 * @example
 * ```ts
 * import { ConnectionClosedError } from "@nanorpc/nanorpc";
 *
 * console.log(new ConnectionClosedError().message);
 * ```
 */
export class ConnectionClosedError extends ClientError {
  /**
   * Creates the error.
   *
   * @param message Defaults to a message naming the usual remedy.
   * @param options Standard error options such as `cause`.
   */
  constructor(
    message = "Client is closed; create a new client to send requests",
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ConnectionClosedError";
  }
}

/**
 * The client is not connected and the request could not wait: fail-fast
 * mode is on, or the queue of waiting requests is full.
 *
 * @example
 * ```ts
 * import { NotConnectedError } from "@nanorpc/nanorpc";
 *
 * console.log(new NotConnectedError().message);
 * ```
 */
export class NotConnectedError extends ClientError {
  /**
   * Creates the error.
   *
   * @param message Defaults to a message naming the usual remedy.
   * @param options Standard error options such as `cause`.
   */
  constructor(
    message = "Not connected; retry once the client emits `connect`",
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "NotConnectedError";
  }
}

/**
 * No response arrived within the request's timeout. The server may still
 * run the request.
 *
 * @example
 * ```ts
 * import { TimeoutError } from "@nanorpc/nanorpc";
 *
 * console.log(new TimeoutError("No response within 5000 ms").message);
 * ```
 */
export class TimeoutError extends ClientError {
  /**
   * Creates the error.
   *
   * @param message Defaults to a message naming the usual remedy.
   * @param options Standard error options such as `cause`.
   */
  constructor(
    message = "No response in time; raise the timeout or check the server",
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "TimeoutError";
  }
}

/**
 * The server sent bytes that are not a valid NanoRPC response frame; the
 * client closed that connection. It is a {@link ConnectionLostError}: the
 * requests in flight on that connection reject with it.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "@nanorpc/nanorpc";
 *
 * console.log(new ProtocolError("Malformed response frame").message);
 * ```
 */
export class ProtocolError extends ConnectionLostError {
  /**
   * Why the codec refused the frame (a `MalformedReason`, e.g.
   * `MalformedReason.FRAME_TOO_LARGE` for a frame over the client's
   * `maxMessageSize`), when a frame was refused.
   */
  readonly reason: number | undefined;

  /**
   * Creates the error.
   *
   * @param message What was wrong with the bytes.
   * @param options Standard error options such as `cause`, and the codec's
   * `reason`.
   */
  constructor(message: string, options?: ErrorOptions & { reason?: number }) {
    super(message, options);
    this.name = "ProtocolError";
    this.reason = options?.reason;
  }
}
