/**
 * The one object a handler and its middleware get for a request: the
 * session that sent it, the request's id, path and data, and the answer.
 *
 * @module
 */

import type { Session } from "./session.ts";

/** Whether a context is for a REQUEST or a SUBSCRIBE. */
export type ContextKind = "request" | "subscribe";

/**
 * One request (or subscription) on its way through middleware to its
 * handler. The server's contexts are class instances whose `kind`, `path`,
 * `pathHash`, `signal` and `state` are getters: pass the context itself on,
 * since a spread copy (`{ ...ctx }`) has none of them.
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server();
 * server.handle("/whoami", (ctx) => `session ${ctx.session.id} asked ${ctx.path}`);
 * ```
 */
export interface Context {
  /** The session that sent the request. */
  readonly session: Session;
  /** The request's id, echoed in the response. */
  readonly requestId: number;
  /** `"request"` for REQUEST, `"subscribe"` for SUBSCRIBE. */
  readonly kind: ContextKind;
  /** The path the request was for. */
  readonly path: string;
  /** FNV-1a hash of {@link Context.path}. */
  readonly pathHash: number;
  /**
   * The request's data (for a subscription, its filter). A view into the
   * session's read buffer: valid until the handler settles. Keep
   * {@link Context.copyData} rather than the view: the same view object may
   * later show another request's data.
   */
  data: Uint8Array;
  /**
   * What the response will carry. Set from the handler's return value;
   * middleware may read or replace it after `await next()`.
   */
  body: Uint8Array | string | undefined;
  /**
   * Aborted when the handler's time limit passes or the session ends: pass
   * it on to `fetch` and friends.
   */
  readonly signal: AbortSignal;
  /** Per-request values shared between middleware and the handler. */
  readonly state: Map<string, unknown>;
  /** A copy of {@link Context.data} that stays valid after the handler settles. */
  copyData(): Uint8Array;
}

/**
 * A middleware: runs before (and, after `await next()`, after) the handler,
 * in the order registered with `server.use`. It refuses by throwing a
 * `NanoRpcError` (for example `NotAuthorizedError`). One that returns
 * without calling `next` answers a REQUEST itself (OK with `ctx.body`) and
 * refuses a SUBSCRIBE with STATUS_NOT_AUTHORIZED.
 *
 * @example
 * ```ts
 * import { NotAuthorizedError } from "@nanorpc/nanorpc";
 * import type { Middleware } from "@nanorpc/nanorpc/server";
 *
 * const requireLogin: Middleware = async (ctx, next) => {
 *   if (!ctx.session.has("user")) throw new NotAuthorizedError("Log in first");
 *   await next();
 * };
 * ```
 */
export type Middleware = (
  ctx: Context,
  next: () => Promise<void>,
) => void | Promise<void>;

/**
 * Runs `middleware` in order around `last` for `ctx`.
 *
 * @param middleware The middleware, outermost first.
 * @param ctx The request.
 * @param last The handler at the end of the chain.
 * @returns A promise that settles when the whole chain has, including the
 * rest of it when a middleware called `next` without awaiting it.
 *
 * @example
 * ```ts ignore
 * import { compose } from "@nanorpc/nanorpc/server";
 *
 * await compose([async (_ctx, next) => await next()], ctx, () => "done");
 * ```
 */
export function compose<C extends Context>(
  middleware: readonly Middleware[],
  ctx: C,
  last: (ctx: C) => unknown,
): Promise<void> {
  const step = async (i: number): Promise<void> => {
    if (i === middleware.length) {
      const result = await last(ctx);
      if (result !== undefined) ctx.body = result as Uint8Array | string;
      return;
    }
    // A middleware that did not await `next()` (the rest had not settled
    // before the middleware did) waits for it here, so the answer is the
    // handler's and a failure is caught: a rejection nobody waits for
    // would end the process. One that awaited it has seen its failure,
    // and may have handled it. `settled` is set one reaction later than
    // the middleware's own `await next()` resumes, so that a rest that
    // failed at once (a handler that threw synchronously) still counts as
    // not awaited when the middleware never awaited it.
    let rest: Promise<void> | undefined;
    let settled = false;
    let twice: Error | undefined;
    await middleware[i](ctx, () => {
      if (rest !== undefined) {
        twice = new Error("Middleware called next() more than once");
        const again = Promise.reject(twice);
        again.catch(ignore);
        return again;
      }
      rest = step(i + 1);
      rest.then(ignore, ignore).then(() => settled = true);
      return rest;
    });
    if (rest !== undefined && !settled) await rest;
    if (twice) throw twice;
  };
  return step(0);
}

function ignore(): void {}

/**
 * `middleware`, each checked to be a function, so that a mistake fails
 * where it is registered and not in every request.
 *
 * @throws {TypeError} Naming the first that is not a function.
 */
export function checkedMiddleware(
  middleware: readonly Middleware[],
): readonly Middleware[] {
  const bad = middleware.findIndex((m) => typeof m !== "function");
  if (bad >= 0) {
    throw new TypeError(
      `server.use() takes functions (ctx, next); argument ${bad} is ${
        middleware[bad] === null ? "null" : typeof middleware[bad]
      }`,
    );
  }
  return middleware;
}
