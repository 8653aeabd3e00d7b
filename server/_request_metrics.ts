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
  /**
   * Answers of the read being served, waiting to be timed when it is
   * flushed ({@link MetricsObserver.flush}), and how many of them were OK
   * (counted then too).
   */
  held = 0;
  heldOk = 0;

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

/** What the observer reads on a `ServerSession`. */
interface Timed {
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
   * Routes with answers held for the read being served. A read is served
   * synchronously and ends (or stops to wait) with a flush, so what is
   * held belongs to one session's read, whichever session it is.
   */
  readonly #held: RouteMetrics[] = [];
  /** How many of #held are in use (the array keeps its room). */
  #heldCount = 0;

  /**
   * The handler returned a promise: it is timed on its own. (A request
   * answered synchronously is timed with its session's read, from
   * `lastFrameAt`; forwarded calls, which have no read, set `startedAt`
   * when they start.)
   */
  suspended(ctx: RequestContext): void {
    if (ctx.startedAt !== undefined) return;
    const session: Timed = ctx.session;
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
    // Timed, and counted if OK, with the rest of its read at the flush.
    if (metrics.held++ === 0) this.#held[this.#heldCount++] = metrics;
    if (status === Status.OK) metrics.heldOk++;
    else metrics.count(false, status);
  }

  /** What is held went to the socket now: times it from `session`'s read. */
  flush(session: Timed): void {
    const count = this.#heldCount;
    if (count === 0) return;
    this.#heldCount = 0;
    const held = this.#held;
    const elapsed = performance.now() - session.lastFrameAt;
    for (let i = 0; i < count; i++) {
      const metrics = held[i];
      metrics.observe(elapsed, metrics.held);
      metrics.requests[Status.OK] += metrics.heldOk;
      metrics.held = metrics.heldOk = 0;
    }
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
