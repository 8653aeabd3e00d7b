// Counters and duration histograms of requests, kept per registered route
// (so labels stay bounded) in plain typed arrays: counting a request is an
// array increment and one clock read, with nothing to look up.

import { Status } from "../wasm/wire.ts";
import type { RequestContext } from "./_context.ts";
import type { RequestObserver } from "./_observer.ts";
import type { Route } from "./_router.ts";

/**
 * Upper bounds of the duration histogram's buckets, in seconds: 100 µs to
 * 10 s, as handlers of a game or chat server run in microseconds to
 * milliseconds.
 */
export const DURATION_BOUNDS: readonly number[] = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];
const BOUNDS_MS = DURATION_BOUNDS.map((s) => s * 1000);
const LAST = BOUNDS_MS.length;

/** Status names by status number, as the metrics label them. */
export const STATUS_LABELS: readonly string[] = Object.keys(Status);
const STATUSES = STATUS_LABELS.length;

/** One route's counts. */
export class RouteMetrics {
  /** REQUESTs answered, by status. */
  readonly requests: Float64Array = new Float64Array(STATUSES);
  /** SUBSCRIBEs answered, by status. */
  readonly subscribes: Float64Array = new Float64Array(STATUSES);
  /** Request durations per bucket (not cumulative; the last is +Inf). */
  readonly buckets: Float64Array = new Float64Array(LAST + 1);
  /** Sum of request durations, in ms. */
  sumMs = 0;

  /** Counts an answer of `kind` with `status`. */
  count(subscribe: boolean, status: number): void {
    const i = status >= 0 && status < STATUSES ? status : 0;
    if (subscribe) this.subscribes[i]++;
    else this.requests[i]++;
  }

  /** Adds `n` request durations of `ms` each (default one). */
  observe(ms: number, n = 1): void {
    let i = 0;
    while (i < LAST && ms > BOUNDS_MS[i]) i++;
    this.buckets[i] += n;
    this.sumMs += ms * n;
  }
}

/**
 * Sync answers of a session's read waiting for the time they go out (the
 * session corks: they are written together at the end of the read).
 */
export class PendingTimes {
  /** Runs of answers of one route that started at one time, in order. */
  readonly metrics: RouteMetrics[] = [];
  readonly starts: number[] = [];
  readonly counts: number[] = [];
  /** Of each run, how many were answered OK (counted when it is timed). */
  readonly oks: number[] = [];
  /**
   * Runs held. The arrays are never truncated (V8 would give their room
   * back, and the next read allocate it again); only this count is reset.
   */
  length = 0;

  /** Holds one answer of `metrics` started at `start`, `ok` or not. */
  add(metrics: RouteMetrics, start: number, ok: boolean): void {
    // The answers of one read share its start time: one run per route.
    const last = this.length - 1;
    const okCount = ok ? 1 : 0;
    if (
      last >= 0 && this.metrics[last] === metrics && this.starts[last] === start
    ) {
      this.counts[last]++;
      this.oks[last] += okCount;
      return;
    }
    this.metrics[last + 1] = metrics;
    this.starts[last + 1] = start;
    this.counts[last + 1] = 1;
    this.oks[last + 1] = okCount;
    this.length = last + 2;
  }
}

/** What the observer keeps on a `ServerSession` (others have none). */
interface Timed {
  opsPending?: PendingTimes;
  readonly lastFrameAt: number;
}

/**
 * The metrics observer: counts every answer and times every REQUEST from
 * the moment its read arrived to the moment its answer went to the
 * socket. A session corks its writes, so the answers of sync handlers
 * leave together when its read is served (or when it stops to wait for an
 * async handler or its rate limit): they are timed then, with one clock
 * read for them all. An async handler is timed when it settles.
 */
export class MetricsObserver implements RequestObserver {
  /** Counts of frames to paths that are not registered. */
  readonly unregistered: RouteMetrics = new RouteMetrics();
  /** Routes that have been counted, in first-use order. */
  readonly routes: Route[] = [];

  /**
   * A request is timed with its session's read (from `lastFrameAt`) while
   * it is answered synchronously; `ctx.startedAt` is set only when it is
   * timed on its own.
   */
  start(ctx: RequestContext): void {
    // A forwarded call's proxy session has no reads: its clock starts now.
    if (!("opsPending" in ctx.session)) ctx.startedAt = performance.now();
  }

  /** The handler returned a promise: it is timed on its own. */
  suspended(ctx: RequestContext): void {
    if (ctx.startedAt !== undefined) return;
    const session = ctx.session as Timed;
    // The session uncorks before it waits: answers so far go out now.
    this.flush(session);
    ctx.startedAt = session.lastFrameAt;
  }

  end(ctx: RequestContext, status: number): void {
    const metrics = this.#of(ctx.route);
    if (ctx.kind === "subscribe") {
      metrics.count(true, status);
      return;
    }
    const started = ctx.startedAt;
    if (started !== undefined) {
      // Timed on its own: this answer goes out now.
      metrics.count(false, status);
      metrics.observe(performance.now() - started);
      return;
    }
    // Timed, and counted if OK, with its read's other answers at flush.
    const ok = status === Status.OK;
    if (!ok) metrics.count(false, status);
    const session = ctx.session as Timed;
    const pending = session.opsPending ??= new PendingTimes();
    pending.add(metrics, session.lastFrameAt, ok);
  }

  /** The session's pending answers went to the socket now. */
  flush(session: Timed): void {
    const pending = session.opsPending;
    if (pending === undefined || pending.length === 0) return;
    const now = performance.now();
    const { metrics, starts, counts, oks } = pending;
    for (let i = 0; i < pending.length; i++) {
      const m = metrics[i];
      m.observe(now - starts[i], counts[i]);
      m.requests[Status.OK] += oks[i];
    }
    pending.length = 0;
  }

  refused(route: Route | undefined, subscribe: boolean, status: number): void {
    const metrics = route === undefined ? this.unregistered : this.#of(route);
    metrics.count(subscribe, status);
  }

  #of(route: Route): RouteMetrics {
    let metrics = route.metrics;
    if (metrics === undefined) {
      route.metrics = metrics = new RouteMetrics();
      this.routes.push(route);
    }
    return metrics;
  }
}
