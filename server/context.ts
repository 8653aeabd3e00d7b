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
    // What a middleware did with `next()`'s promise is known by whether it
    // took its outcome (await, then, catch, return: each calls `then` on a
    // Rest). One that never did leaves it to us: we wait for the rest, so
    // that the answer is the handler's and its failure is not lost (nor
    // unhandled: that would end the process). One that did may have
    // handled the failure. A middleware that fails still waits for the
    // rest, which may be reading ctx.data.
    let rest: Rest | undefined;
    let twice: Error | undefined;
    try {
      await middleware[i](ctx, () => {
        if (rest !== undefined) {
          twice = new Error("Middleware called next() more than once");
          const again = Promise.reject(twice);
          again.catch(ignore);
          return again;
        }
        return rest = Rest.of(step(i + 1));
      });
    } catch (err) {
      if (rest !== undefined) await Rest.settled(rest);
      throw err;
    }
    if (rest !== undefined && !rest.taken) await Rest.settled(rest, true);
    if (twice) throw twice;
  };
  return step(0);
}

/** The promise `next()` returns: it knows whether its outcome was taken. */
class Rest extends Promise<void> {
  /** Whether a `then` (await, catch, return) asked for the outcome. */
  taken = false;

  /** Derived promises are plain ones. */
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  /** A Rest settling as `promise` does, its failure not yet anyone's. */
  static of(promise: Promise<void>): Rest {
    const rest = new Rest((resolve, reject) => promise.then(resolve, reject));
    // Handled for the runtime (which ends the process on an unhandled
    // rejection) without counting as taken by the middleware.
    Promise.prototype.then.call(rest, undefined, ignore);
    return rest;
  }

  /** Waits for `rest`; rethrows its failure when `rethrow`. */
  static async settled(rest: Rest, rethrow = false): Promise<void> {
    try {
      await Promise.prototype.then.call(rest, undefined, undefined);
    } catch (err) {
      if (rethrow) throw err;
    }
  }

  override then<A = void, B = never>(
    onFulfilled?: ((value: void) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.taken = true;
    return super.then(onFulfilled, onRejected);
  }
}

function ignore(): void {}
