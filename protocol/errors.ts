/**
 * Status errors, shared by server and client: a handler throws a
 * {@link NanoRpcError} to answer with its status, and the client rejects a
 * call whose response is not STATUS_OK with the matching subclass. Failures
 * the client meets by itself (connection lost, timeout) are a sibling
 * family, `ClientError`, in the client module.
 *
 * @module
 */

import { Status, statusName } from "../wasm/wire.ts";

/** Options of a {@link NanoRpcError}: standard error options and `expose`. */
export interface NanoRpcErrorOptions extends ErrorOptions {
  /** Whether the message may be sent to the peer. Default `true`. */
  expose?: boolean;
}

/**
 * Base class of every NanoRPC status error: an `Error` with the response status
 * it stands for.
 *
 * @example Answer a request with STATUS_NOT_AUTHORIZED from a handler
 * ```ts
 * import { NanoRpcError, Server, Status } from "@nanorpc/nanorpc";
 *
 * const server = new Server();
 * server.handle("/room/send", (ctx) => {
 *   if (!ctx.session.has("name")) {
 *     throw new NanoRpcError(Status.NOT_AUTHORIZED, "Join the room first");
 *   }
 * });
 * ```
 */
export class NanoRpcError extends Error {
  /** The response status this error stands for (see `Status`). */
  readonly status: Status;
  /**
   * Whether the message may be sent to the peer. A server answers an
   * exposed error with its own message; any other exception a handler
   * throws is answered with a generic message and a reference that the
   * server logs beside the real error. Default `true`.
   */
  readonly expose: boolean;

  /**
   * Creates an error standing for a response status.
   *
   * @param status The response status, e.g. `Status.INTERNAL_ERROR`.
   * @param message What went wrong and what to do, in sentence case.
   * @param options Standard error options such as `cause`.
   */
  constructor(status: Status, message: string, options?: NanoRpcErrorOptions) {
    super(message, options);
    this.name = "NanoRpcError";
    this.status = status;
    this.expose = options?.expose ?? true;
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
 * import { NotAuthorizedError, Server } from "@nanorpc/nanorpc";
 *
 * const server = new Server();
 * server.handle("/admin/kick", (ctx) => {
 *   if (ctx.session.get("role") !== "admin") {
 *     throw new NotAuthorizedError("Log in before calling /admin/kick");
 *   }
 * });
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
 * import { InternalError, Server } from "@nanorpc/nanorpc";
 *
 * const server = new Server();
 * server.handle("/scores", () => {
 *   throw new InternalError("Database unavailable; retry later");
 * });
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
