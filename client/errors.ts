/**
 * The error hierarchy shared by server and client. A handler throws a
 * {@link NanoRpcError} to answer with its status; the client rejects a call
 * whose response is not STATUS_OK with the matching subclass. Errors raised
 * by the client itself (connection lost, timeout, malformed response) are
 * {@link ClientError}s and carry `Status.UNSPECIFIED`.
 *
 * @module
 */

import { Status, statusName } from "../wasm/wire.ts";

/**
 * Base class of every NanoRPC error: an `Error` with the response status
 * it stands for.
 *
 * @example Answer a request with STATUS_NOT_AUTHORIZED from a handler
 * ```ts
 * import { NanoRpcError, Status } from "@nanorpc/nanorpc";
 *
 * throw new NanoRpcError(Status.NOT_AUTHORIZED, "Join the room before sending");
 * ```
 */
export class NanoRpcError extends Error {
  /** The response status this error stands for (see `Status`). */
  readonly status: Status;

  /**
   * Creates an error standing for a response status.
   *
   * @param status The response status, e.g. `Status.INTERNAL_ERROR`.
   * @param message What went wrong and what to do, in sentence case.
   * @param options Standard error options such as `cause`.
   */
  constructor(status: Status, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NanoRpcError";
    this.status = status;
  }
}

/**
 * STATUS_NOT_FOUND: no handler or topic is registered at the path.
 *
 * @example
 * ```ts
 * import { NotFoundError } from "@nanorpc/nanorpc";
 *
 * const error = new NotFoundError("No handler at /nope; check the path");
 * console.log(error.status); // 2
 * ```
 */
export class NotFoundError extends NanoRpcError {
  /**
   * Creates the error.
   *
   * @param message Defaults to a generic "not found" message.
   * @param options Standard error options such as `cause`.
   */
  constructor(
    message = "Path not found; check the path or its hash",
    options?: ErrorOptions,
  ) {
    super(Status.NOT_FOUND, message, options);
    this.name = "NotFoundError";
  }
}

/**
 * STATUS_NOT_AUTHORIZED: middleware or a handler refused the request.
 *
 * @example
 * ```ts
 * import { NotAuthorizedError } from "@nanorpc/nanorpc";
 *
 * throw new NotAuthorizedError("Log in before calling /admin/kick");
 * ```
 */
export class NotAuthorizedError extends NanoRpcError {
  /**
   * Creates the error.
   *
   * @param message Defaults to a generic "not authorized" message.
   * @param options Standard error options such as `cause`.
   */
  constructor(
    message = "Not authorized; authenticate first",
    options?: ErrorOptions,
  ) {
    super(Status.NOT_AUTHORIZED, message, options);
    this.name = "NotAuthorizedError";
  }
}

/**
 * STATUS_INTERNAL_ERROR: the handler failed or ran out of time.
 *
 * @example
 * ```ts
 * import { InternalError } from "@nanorpc/nanorpc";
 *
 * throw new InternalError("Database unavailable; retry later");
 * ```
 */
export class InternalError extends NanoRpcError {
  /**
   * Creates the error.
   *
   * @param message Defaults to a generic "internal error" message.
   * @param options Standard error options such as `cause`.
   */
  constructor(
    message = "Internal server error; see the server log",
    options?: ErrorOptions,
  ) {
    super(Status.INTERNAL_ERROR, message, options);
    this.name = "InternalError";
  }
}

/**
 * The error a non-OK response stands for: the subclass matching `status`,
 * or a plain {@link NanoRpcError} for statuses without one.
 *
 * @param status The response status.
 * @param message The response message; a default is used when empty.
 * @returns The error, ready to throw.
 *
 * @example
 * ```ts
 * import { errorFromStatus, NotFoundError, Status } from "@nanorpc/nanorpc";
 *
 * const error = errorFromStatus(Status.NOT_FOUND, "");
 * console.log(error instanceof NotFoundError); // true
 * ```
 */
export function errorFromStatus(status: number, message: string): NanoRpcError {
  switch (status) {
    case Status.NOT_FOUND:
      return new NotFoundError(message || undefined);
    case Status.NOT_AUTHORIZED:
      return new NotAuthorizedError(message || undefined);
    case Status.INTERNAL_ERROR:
      return new InternalError(message || undefined);
    default:
      return new NanoRpcError(
        status as Status,
        message || `Server answered with ${statusName(status)}`,
      );
  }
}

/**
 * Base class of errors the client raises itself, not the server: their
 * status is `Status.UNSPECIFIED`.
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
export class ClientError extends NanoRpcError {
  /**
   * Creates the error.
   *
   * @param message What went wrong and what to do.
   * @param options Standard error options such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(Status.UNSPECIFIED, message, options);
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
   * Creates the error.
   *
   * @param message What was wrong with the bytes.
   * @param options Standard error options such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
  }
}
