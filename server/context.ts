/**
 * The one object a handler and its middleware get for a request: the
 * session that sent it, the request's id, path and data, and the answer.
 *
 * @module
 */

import type { Route } from "./router.ts";
import type { Session } from "./session.ts";

/** Whether a context is for a REQUEST or a SUBSCRIBE. */
export type ContextKind = "request" | "subscribe";

/**
 * A middleware: runs before (and, after `await next()`, after) the handler,
 * in the order registered with `server.use`. It refuses by throwing a
 * `NanoRpcError` (for example `NotAuthorizedError`). One that returns
 * without calling `next` answers a REQUEST itself (OK with `ctx.body`) and
 * refuses a SUBSCRIBE with STATUS_NOT_AUTHORIZED.
 */
export type Middleware = (
  ctx: Context,
  next: () => Promise<void>,
) => void | Promise<void>;

/**
 * One request (or subscription) on its way through middleware to its
 * handler.
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc";
 *
 * const server = new Server();
 * server.handle("/whoami", (ctx) => `session ${ctx.session.id} asked ${ctx.path}`);
 * ```
 */
export class Context {
  /** The session that sent the request. */
  readonly session: Session;
  /** The request's id, echoed in the response. */
  readonly requestId: number;
  /** `"request"` for REQUEST, `"subscribe"` for SUBSCRIBE. */
  readonly kind: ContextKind;
  /**
   * The request's data (for a subscription, its filter). A view into the
   * session's read buffer: valid until the handler settles.
   */
  data: Uint8Array;
  /**
   * What the response will carry. Set from the handler's return value;
   * middleware may read or replace it after `await next()`.
   */
  body: Uint8Array | string | undefined = undefined;
  #route: Route;
  #state?: Map<string, unknown>;
  #abort?: AbortController;
  #signal?: AbortSignal;

  /** Creates the context; the server does this for every request. */
  constructor(
    session: Session,
    route: Route,
    requestId: number,
    data: Uint8Array,
    kind: ContextKind,
  ) {
    this.session = session;
    this.#route = route;
    this.requestId = requestId;
    this.data = data;
    this.kind = kind;
  }

  /** The route (path, handler, topic) the request was for. */
  get route(): Route {
    return this.#route;
  }

  /** The path the request was for. */
  get path(): string {
    return this.#route.path;
  }

  /** FNV-1a hash of {@link path}. */
  get pathHash(): number {
    return this.#route.hash;
  }

  /**
   * Aborted when the handler's time limit passes or the session ends: pass
   * it on to `fetch` and friends.
   */
  get signal(): AbortSignal {
    this.#abort ??= new AbortController();
    return this.#signal ??= AbortSignal.any([
      this.#abort.signal,
      this.session.signal,
    ]);
  }

  /** Ends {@link signal} with `reason`; the server calls it. */
  abort(reason: unknown): void {
    this.#abort?.abort(reason);
  }

  /** A copy of {@link data} that stays valid after the handler settles. */
  copyData(): Uint8Array {
    return this.data.slice();
  }

  /** Per-request values shared between middleware and the handler. */
  get state(): Map<string, unknown> {
    return this.#state ??= new Map();
  }
}

/**
 * Runs `middleware` in order around `last` for `ctx`.
 *
 * @returns A promise that settles when the whole chain has.
 */
export function compose(
  middleware: readonly Middleware[],
  ctx: Context,
  last: (ctx: Context) => unknown,
): Promise<void> {
  let index = -1;
  const step = async (i: number): Promise<void> => {
    if (i <= index) throw new Error("Middleware called next() more than once");
    index = i;
    if (i === middleware.length) {
      const result = await last(ctx);
      if (result !== undefined) ctx.body = result as Uint8Array | string;
      return;
    }
    await middleware[i](ctx, () => step(i + 1));
  };
  return step(0);
}
