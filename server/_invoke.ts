// Running one request through middleware and its handler, under the
// handler's time limit, and turning the outcome into a response.

import { NanoRpcError } from "../client/errors.ts";
import { ResponseType, Status } from "../wasm/wire.ts";
import type { ServerCore } from "./_core.ts";
import { compose, type Context } from "./context.ts";

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

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
  /** An async handler started / settled (for graceful shutdown). */
  begin(): void;
  end(): void;
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
  r.begin();
  const route = r.core.router.lookup(ctx.pathHash)!;
  const limit = route.options.timeout ?? r.core.limits.handlerTimeout;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    let result = pending;
    if (limit > 0 && Number.isFinite(limit)) {
      result = Promise.race([
        pending,
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            const err = new NanoRpcError(
              Status.INTERNAL_ERROR,
              `Handler for ${ctx.path} did not finish within ${limit} ms`,
            );
            ctx.abort(err);
            reject(err);
          }, limit);
        }),
      ]);
    }
    const value = await result;
    // compose() has already stored the handler's value in ctx.body.
    answer(r, ctx, composed ? undefined : value);
  } catch (err) {
    fail(r, ctx, err);
  } finally {
    clearTimeout(timer);
    r.end();
  }
}

function answer(r: Responder, ctx: Context, value: unknown): void {
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
    message = err.message;
  } else {
    const reason = err instanceof Error ? err.message : String(err);
    message = `Handler for ${ctx.path} failed: ${reason}`;
    r.core.logger.error(`session ${r.sessionId}: ${message}`, err);
  }
  r.respond(ctx.requestId, ResponseType.RESPONSE, status, message, EMPTY);
}
