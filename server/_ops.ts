// The operational state of a server: its request observer (metrics and
// tracing), rate limits, session resumption, draining, and the counters
// that do not fit the flat ServerStats. Built once from the options.

import { protobufLoading } from "../protocol/_protobuf.ts";
import type { PeerAddress } from "../transport/byte_stream.ts";
import { MetricsObserver } from "./_request_metrics.ts";
import { combine, type RequestObserver } from "./_observer.ts";
import {
  AddressLimiter,
  RateLimitSettings,
  SessionLimiter,
} from "./_rate_limit.ts";
import { Resumption } from "./_resume.ts";
import {
  loadOtelApi,
  otelRegistered,
  tracingAvailable,
  TracingObserver,
} from "./_tracing.ts";
import type { OperationsOptions } from "./ops_options.ts";
import type { ServerStats } from "./stats.ts";

export class Ops {
  /** Undefined when neither metrics nor tracing is on. */
  readonly observer: RequestObserver | undefined;
  readonly metrics: MetricsObserver | undefined;
  readonly tracing: boolean;
  /**
   * The load of `@opentelemetry/api` (for tracing, or for
   * `withTraceparent` where an OpenTelemetry API is registered), which
   * `listen()` and `serve()` wait for; undefined when none is needed or
   * once it has settled.
   */
  ready: Promise<unknown> | undefined;
  readonly rateLimit: RateLimitSettings | undefined;
  readonly connections: AddressLimiter | undefined;
  /** Undefined when `resumeGrace` is 0. */
  readonly resume: Resumption | undefined;
  /** Malformed-frame closes by the codec's reason code. */
  readonly malformed: number[] = [];
  /** `server.drain()` has begun and stopped accepting: refuse sessions. */
  refuseAll = false;

  /** @param maxSessions How many sessions may also linger for a resume. */
  constructor(options: OperationsOptions, maxSessions: number) {
    this.metrics = options.metrics === false
      ? undefined
      : new MetricsObserver();
    this.tracing = options.tracing ?? tracingAvailable();
    const tracer = this.tracing ? new TracingObserver() : undefined;
    const ready = tracer?.ready ??
      (otelRegistered() ? loadOtelApi() : undefined);
    this.ready = ready?.then(() => this.ready = undefined);
    this.observer = combine([this.metrics, tracer]);
    this.rateLimit = options.rateLimit
      ? new RateLimitSettings(options.rateLimit)
      : undefined;
    this.connections = options.connectionRateLimit
      ? new AddressLimiter(options.connectionRateLimit)
      : undefined;
    const grace = options.resumeGrace ?? 30_000;
    if (typeof grace !== "number" || !(grace >= 0)) {
      throw new RangeError(
        `resumeGrace must be a number of milliseconds >= 0 (0 turns resumption off), got ${
          String(grace)
        }`,
      );
    }
    this.resume = grace > 0
      ? new Resumption(grace, options.resumeBuffer ?? {}, maxSessions)
      : undefined;
  }

  /**
   * The loads still in progress of the npm packages that load on first
   * use (protobuf-es for typed registrations, `@opentelemetry/api` for
   * tracing), which `listen()` and `serve()` wait for so that sessions
   * never find them missing; `undefined` when there are none. Rejects
   * when protobuf-es cannot be loaded.
   */
  loading(): Promise<unknown> | undefined {
    const protobuf = protobufLoading();
    if (protobuf && this.ready) return Promise.all([protobuf, this.ready]);
    return protobuf ?? this.ready;
  }

  /** A new session's rate limiter, if sessions are limited. */
  limiter(): SessionLimiter | undefined {
    return this.rateLimit && new SessionLimiter(this.rateLimit);
  }

  /**
   * Why a new connection from `addr` is refused (a drain, or too many new
   * connections from its host), if it is.
   */
  refusal(addr: PeerAddress, stats: ServerStats): string | undefined {
    if (this.refuseAll) return "server is draining: connect to another node";
    if (this.connections && !this.connections.admit(addr)) {
      stats.connectionsRateLimited++;
      return `connectionRateLimit reached: more than ${this.connections.perSecond} new connections per second from this address`;
    }
  }

  /** Counts a malformed-frame close with the codec's reason code. */
  countMalformed(reason: number): void {
    this.malformed[reason] = (this.malformed[reason] ?? 0) + 1;
  }
}
