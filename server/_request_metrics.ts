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

/** A `ServerSession` has the mark; other sessions do not. */
interface Marked {
  opsMark?: number;
  readonly lastFrameAt: number;
}

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

  /** Adds a request duration, in ms. */
  observe(ms: number): void {
    let i = 0;
    while (i < LAST && ms > BOUNDS_MS[i]) i++;
    this.buckets[i]++;
    this.sumMs += ms;
  }
}

/** The metrics observer: counts every answer, times every REQUEST. */
export class MetricsObserver implements RequestObserver {
  /** Counts of frames to paths that are not registered. */
  readonly unregistered: RouteMetrics = new RouteMetrics();
  /** Routes that have been counted, in first-use order. */
  readonly routes: Route[] = [];

  /**
   * A request's clock starts when the previous one of its session ended,
   * or when its read arrived, whichever is later: one clock read per
   * request instead of two, and for pipelined requests served one after
   * another the time each took. (A proxy session of a call forwarded from
   * another node has no mark: its clock starts now.)
   */
  start(ctx: RequestContext): void {
    const session = ctx.session as Marked;
    const mark = session.opsMark;
    const read = session.lastFrameAt;
    ctx.startedAt = mark === undefined
      ? performance.now()
      : mark > read
      ? mark
      : read;
  }

  end(ctx: RequestContext, status: number): void {
    const now = performance.now();
    const session = ctx.session as Marked;
    if (session.opsMark !== undefined) session.opsMark = now;
    const metrics = this.#of(ctx.route);
    if (ctx.kind === "subscribe") {
      metrics.count(true, status);
      return;
    }
    metrics.count(false, status);
    metrics.observe(now - ctx.startedAt);
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
