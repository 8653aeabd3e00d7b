// What watches requests: metrics, tracing, or both. The server decides
// once, when it is created, and with neither the observer is undefined,
// so the request path does no observing work at all.

import type { RequestContext } from "./_context.ts";
import type { Route } from "./_router.ts";
import type { ServerSession } from "./_session.ts";

/** Hooks the request path calls when an observer is installed. */
export interface RequestObserver {
  /** A REQUEST or SUBSCRIBE is about to run its middleware and handler. */
  start?(ctx: RequestContext): void;
  /** It was answered with `status` (exactly once per request). */
  end(ctx: RequestContext, status: number): void;
  /**
   * A frame was answered before any handler: no handler or topic at the
   * path (`route` undefined when the path is not registered), a hash
   * collision, an unsupported request type, or an unsubscribe (OK).
   */
  refused(route: Route | undefined, subscribe: boolean, status: number): void;
  /**
   * Runs the handler chain inside the request's context (the trace span
   * of tracing), when the observer needs to.
   */
  run?<T>(ctx: RequestContext, fn: () => T): T;
  /** The handler returned a promise (after `start`, before `end`). */
  suspended?(ctx: RequestContext): void;
  /** The session's corked answers went to the socket just now. */
  flush?(session: ServerSession): void;
}

/** One observer out of several (or none). */
export function combine(
  observers: (RequestObserver | undefined)[],
): RequestObserver | undefined {
  const list = observers.filter((o) => o !== undefined);
  if (list.length <= 1) return list[0];
  // Metrics and tracing: two at most.
  const [a, b] = list;
  const runner = a.run ? a : b.run ? b : undefined;
  // Only metrics times: the hooks are the first observer's or the other's.
  const timer = a.flush ? a : b;
  return {
    suspended: (ctx) => timer.suspended?.(ctx),
    flush: (session) => timer.flush?.(session),
    start(ctx) {
      a.start?.(ctx);
      b.start?.(ctx);
    },
    end(ctx, status) {
      a.end(ctx, status);
      b.end(ctx, status);
    },
    refused(route, subscribe, status) {
      a.refused(route, subscribe, status);
      b.refused(route, subscribe, status);
    },
    run: runner && ((ctx, fn) => runner.run!(ctx, fn)),
  };
}
