// Running one request through middleware and its handler, under the
// handler's time limit, and turning the outcome into a response.

import { InternalError, NanoRpcError } from "../protocol/errors.ts";
import { ResponseType, Status } from "../wasm/wire.ts";
import type { RequestContext } from "./_context.ts";
import { compose, type Middleware } from "./context.ts";
import type { ServerCore } from "./_core.ts";
import { MAX_TIMER } from "./_timer.ts";

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/**
 * Work to do when a request is answered OK, just before the answer is
 * queued (a SUBSCRIBE attaches its subscription there). It may throw a
 * NanoRpcError to answer with that instead.
 */
export interface Pending {
  commit?: () => void;
  /** Runs right after the OK answer is queued. */
  acked?: () => void;
}

/**
 * What an invocation needs from its session: a `ServerSession`, or the
 * capture of a call forwarded from another node.
 */
export interface Responder {
  readonly core: ServerCore;
  /** An async outcome started. */
  begin(): void;
  /** It settled. */
  end(): void;
  /** A handler outlived its time limit and may still read its data. */
  lend(): void;
  /** Queues the answer. */
  respond(
    id: number,
    type: number,
    status: number,
    message: string | undefined,
    data: Uint8Array,
  ): void;
}
type Context = RequestContext;

/**
 * Runs `last` for `ctx` behind the server's middleware and answers the
 * request. Returns a promise only when the outcome is async: it settles
 * once the answer is queued.
 */
export function invoke(
  r: Responder,
  ctx: Context,
  last: (ctx: Context) => unknown,
  pending?: Pending,
): Promise<void> | undefined {
  const middleware = r.core.middleware;
  const observer = r.core.ops.observer;
  let result: unknown;
  try {
    observer?.start?.(ctx);
    // Tracing runs the chain inside the request's span.
    result = observer?.run
      ? observer.run(ctx, () => chain(middleware, ctx, last))
      : chain(middleware, ctx, last);
  } catch (err) {
    fail(r, ctx, err);
    return;
  }
  if (result instanceof Promise) {
    observer?.suspended?.(ctx);
    return settle(r, ctx, result, middleware.length > 0, pending);
  }
  answer(r, ctx, result, pending);
}

function chain(
  middleware: Middleware[],
  ctx: Context,
  last: (ctx: Context) => unknown,
): unknown {
  return middleware.length > 0 ? compose(middleware, ctx, last) : last(ctx);
}

async function settle(
  r: Responder,
  ctx: Context,
  outcome: Promise<unknown>,
  composed: boolean,
  pending: Pending | undefined,
): Promise<void> {
  // In flight until answered: a handler past its time limit no longer holds
  // up shutdown (its ctx.signal has aborted; its ctx.data stays valid).
  r.begin();
  try {
    await answerWhenSettled(r, ctx, outcome, composed, pending);
  } finally {
    r.end();
  }
}

async function answerWhenSettled(
  r: Responder,
  ctx: Context,
  result: Promise<unknown>,
  composed: boolean,
  pending: Pending | undefined,
): Promise<void> {
  const limit = ctx.route.options.timeout ?? r.core.limits.handlerTimeout;
  if (!(limit > 0 && limit < MAX_TIMER)) {
    try {
      const value = await result;
      answer(r, ctx, composed ? undefined : value, pending);
    } catch (err) {
      fail(r, ctx, err);
    }
    return;
  }
  const outcome = Promise.withResolvers<void>();
  let done = false;
  const timer = setTimeout(() => {
    if (done) return;
    done = true;
    const err = new InternalError(
      `Handler for ${ctx.path} did not finish within ${limit} ms`,
    );
    ctx.abort(err);
    r.lend();
    fail(r, ctx, err);
    outcome.resolve();
  }, limit);
  result.then((value) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    answer(r, ctx, composed ? undefined : value, pending);
    outcome.resolve();
  }, (err) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    fail(r, ctx, err);
    outcome.resolve();
  });
  await outcome.promise;
}

function answer(
  r: Responder,
  ctx: Context,
  value: unknown,
  pending?: Pending,
): void {
  // Most answers: a request's bytes. Kept small to be inlined.
  if (pending === undefined && ctx.kind === "request") {
    if (value !== undefined) ctx.body = value as Uint8Array;
    const body = ctx.body;
    if (body instanceof Uint8Array) {
      r.core.ops.observer?.end(ctx, Status.OK);
      r.respond(
        ctx.requestId,
        ResponseType.RESPONSE,
        Status.OK,
        undefined,
        body,
      );
      return;
    }
  }
  answerAny(r, ctx, value, pending);
}

/** {@link answer} with anything. */
function answerAny(
  r: Responder,
  ctx: Context,
  value: unknown,
  pending?: Pending,
): void {
  const commit = pending?.commit;
  if (!commit && ctx.kind === "subscribe") {
    // Middleware answered without calling next(): no subscription exists,
    // so an OK ack would be a lie.
    fail(
      r,
      ctx,
      new NanoRpcError(
        Status.NOT_AUTHORIZED,
        `Subscription to ${ctx.path} refused by middleware`,
      ),
    );
    return;
  }
  if (value !== undefined) ctx.body = value as Uint8Array;
  const body = ctx.body;
  let data: Uint8Array;
  if (body === undefined || body === null) data = EMPTY;
  else if (body instanceof Uint8Array) data = body;
  else if (typeof body === "string") data = encoder.encode(body);
  else {
    // Refused before the subscription attaches: nothing is left behind.
    const type = typeof body;
    fail(
      r,
      ctx,
      new InternalError(
        `Handler for ${ctx.path} returned ${type}, not Uint8Array or string`,
      ),
    );
    return;
  }
  if (commit) {
    pending!.commit = undefined;
    try {
      commit();
    } catch (err) {
      fail(r, ctx, err);
      return;
    }
  }
  r.core.ops.observer?.end(ctx, Status.OK);
  r.respond(ctx.requestId, ResponseType.RESPONSE, Status.OK, undefined, data);
  pending?.acked?.();
}

/**
 * Answers with the status of a `NanoRpcError` thrown on purpose, with its
 * message when it is exposed. Anything else is a bug: the peer gets
 * INTERNAL_ERROR with a generic message and a reference, and the log gets
 * the reference with the real error.
 */
const ERROR_STATUSES: ReadonlySet<number> = new Set([
  Status.NOT_FOUND,
  Status.NOT_AUTHORIZED,
  Status.INTERNAL_ERROR,
]);

function fail(r: Responder, ctx: Context, err: unknown): void {
  let status: number = Status.INTERNAL_ERROR;
  let message: string;
  // Only an error status may answer an error (OK would ack a refusal).
  const own = err instanceof NanoRpcError && ERROR_STATUSES.has(err.status)
    ? err.status
    : undefined;
  if (err instanceof NanoRpcError && err.expose) {
    status = own ?? status;
    message = clip(err.message);
  } else {
    status = own ?? status;
    const ref = crypto.randomUUID().slice(0, 8);
    message =
      `Handler for ${ctx.path} failed (reference ${ref}); the server log has the details`;
    r.core.logger.error(`${r}: handler for ${ctx.path} failed [${ref}]:`, err);
  }
  r.core.ops.observer?.end(ctx, status);
  r.respond(ctx.requestId, ResponseType.RESPONSE, status, message, EMPTY);
}

/** Longest response message sent; longer ones are cut (a frame must fit). */
const MAX_MESSAGE = 1024;

function clip(message: string): string {
  return message.length > MAX_MESSAGE
    ? `${message.slice(0, MAX_MESSAGE)}\u2026`
    : message;
}

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
      `server.use() takes functions (ctx, next); argument ${bad + 1} is ${
        middleware[bad] === null ? "null" : typeof middleware[bad]
      }`,
    );
  }
  return middleware;
}
