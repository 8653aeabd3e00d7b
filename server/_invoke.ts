// Running one request through middleware and its handler, under the
// handler's time limit, and turning the outcome into a response.

import { NanoRpcError } from "../client/errors.ts";
import { ResponseType, Status } from "../wasm/wire.ts";
import type { ServerCore } from "./_core.ts";
import { compose, type Context } from "./context.ts";

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/**
 * Work to do when a request is answered OK, just before the answer is
 * queued (a SUBSCRIBE attaches its subscription there). It may throw a
 * NanoRpcError to answer with that instead.
 */
export const onAnswer: WeakMap<Context, () => void> = new WeakMap();

/** What an invocation needs from its session. */
export interface Responder {
  readonly core: ServerCore;
  /** Session id, for log lines. */
  readonly sessionId: number;
  /** Queues a response frame. */
  respond(
    id: number,
    type: number,
    status: number,
    message: string | undefined,
    data: Uint8Array,
  ): void;
  /** An async handler started / finished running (graceful shutdown). */
  begin(): void;
  end(): void;
  /** A handler outlived its time limit and may still read its `ctx.data`. */
  lend(): void;
}

/**
 * Runs `last` for `ctx` behind the server's middleware and answers the
 * request. Returns a promise only when the outcome is async and the caller
 * must wait for it (`detach` lets it run on its own).
 */
export function invoke(
  r: Responder,
  ctx: Context,
  last: (ctx: Context) => unknown,
  detach: boolean,
): Promise<void> | undefined {
  const middleware = r.core.middleware;
  let result: unknown;
  try {
    result = middleware.length > 0 ? compose(middleware, ctx, last) : last(ctx);
  } catch (err) {
    fail(r, ctx, err);
    return;
  }
  if (result instanceof Promise) {
    const done = settle(r, ctx, result, middleware.length > 0);
    return detach ? undefined : done;
  }
  answer(r, ctx, result);
}

async function settle(
  r: Responder,
  ctx: Context,
  pending: Promise<unknown>,
  composed: boolean,
): Promise<void> {
  // In flight until answered: a handler past its time limit no longer holds
  // up shutdown (its ctx.signal has aborted; its ctx.data stays valid).
  r.begin();
  try {
    await answerWhenSettled(r, ctx, pending, composed);
  } finally {
    r.end();
  }
}

async function answerWhenSettled(
  r: Responder,
  ctx: Context,
  pending: Promise<unknown>,
  composed: boolean,
): Promise<void> {
  const limit = ctx.route.options.timeout ?? r.core.limits.handlerTimeout;
  if (!(limit > 0 && limit < MAX_TIMER)) {
    try {
      const value = await pending;
      answer(r, ctx, composed ? undefined : value);
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
    const err = new NanoRpcError(
      Status.INTERNAL_ERROR,
      `Handler for ${ctx.path} did not finish within ${limit} ms`,
    );
    ctx.abort(err);
    r.lend();
    fail(r, ctx, err);
    outcome.resolve();
  }, limit);
  pending.then((value) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    answer(r, ctx, composed ? undefined : value);
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

function answer(r: Responder, ctx: Context, value: unknown): void {
  const commit = onAnswer.get(ctx);
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
  if (commit) {
    onAnswer.delete(ctx);
    try {
      commit();
    } catch (err) {
      fail(r, ctx, err);
      return;
    }
  }
  if (value !== undefined) ctx.body = value as Uint8Array;
  const body = ctx.body;
  let data: Uint8Array;
  if (body === undefined || body === null) data = EMPTY;
  else if (body instanceof Uint8Array) data = body;
  else if (typeof body === "string") data = encoder.encode(body);
  else {
    const type = typeof body;
    fail(
      r,
      ctx,
      new TypeError(`handler returned ${type}, not Uint8Array or string`),
    );
    return;
  }
  r.respond(ctx.requestId, ResponseType.RESPONSE, Status.OK, undefined, data);
}

function fail(r: Responder, ctx: Context, err: unknown): void {
  let status: number = Status.INTERNAL_ERROR;
  let message: string;
  if (err instanceof NanoRpcError && err.status !== Status.UNSPECIFIED) {
    status = err.status;
    message = clip(err.message);
  } else {
    const reason = err instanceof Error ? err.message : String(err);
    message = `Handler for ${ctx.path} failed: ${clip(reason)}`;
    r.core.logger.error(`session ${r.sessionId}: ${message}`, err);
  }
  r.respond(ctx.requestId, ResponseType.RESPONSE, status, message, EMPTY);
}

/** Longest response message sent; longer ones are cut (a frame must fit). */
const MAX_MESSAGE = 1024;
/** setTimeout fires at once for delays of 2^31 ms or more. */
const MAX_TIMER = 2 ** 31 - 1;

function clip(message: string): string {
  return message.length > MAX_MESSAGE
    ? `${message.slice(0, MAX_MESSAGE)}…`
    : message;
}
