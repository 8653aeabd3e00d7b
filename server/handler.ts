/**
 * What a request handler is: a function of the request's context that
 * answers with data, text or nothing.
 *
 * @module
 */

import type { Context } from "./context.ts";

/** What a handler may return: data to answer with, text, or nothing. */
export type HandlerResult = Uint8Array | string | void | undefined;

/**
 * Answers a request. `ctx.data` is a view valid until the returned value
 * (or promise) settles; copy it (`ctx.copyData()`) to keep it longer.
 * Throw a `NanoRpcError` to answer with its status; any other exception is
 * answered with STATUS_INTERNAL_ERROR, a generic message and a reference
 * that the server logs with the error.
 *
 * @example
 * ```ts
 * import type { Handler } from "@nanorpc/nanorpc/server";
 *
 * const echo: Handler = (ctx) => ctx.data;
 * ```
 */
export type Handler = (
  ctx: Context,
) => HandlerResult | Promise<HandlerResult>;

/** How a handler runs. */
export interface HandleOptions {
  /**
   * Let this handler run alongside the session's later requests instead of
   * holding them until it settles. Its answer may then overtake earlier
   * ones, and its `ctx.data` is a copy. While 1,024 of a session's run
   * (until each settles, also past its time limit) or they hold
   * `outgoingBufferSize` bytes of request data, the next one holds the
   * session's later requests as if not concurrent, until it is answered.
   * Default `false`.
   */
  concurrent?: boolean;
  /** Time limit in milliseconds for this handler; overrides the server's. */
  timeout?: number;
}
