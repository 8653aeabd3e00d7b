/**
 * Options for running a server in production: metrics, tracing, rate
 * limits and session resumption. They are part of `ServerOptions`.
 *
 * @module
 */

/** A token bucket: a sustained rate and the burst above it. */
export interface RateLimit {
  /** Requests per second allowed on average; finite and > 0. */
  perSecond: number;
  /**
   * Requests allowed at once before the rate applies (the bucket's size);
   * a whole number >= 1. Default: `perSecond` rounded up.
   */
  burst?: number;
}

/**
 * Per-session rate limits. A request over the limit waits: the server
 * stops reading that session (pausing in the middle of a read that holds
 * many pipelined requests) until a token is due, so nothing is lost and
 * other sessions are not slowed. PINGs are not limited.
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server({
 *   rateLimit: {
 *     perSecond: 50,
 *     burst: 100,
 *     paths: { "/room/send": { perSecond: 2, burst: 5 } },
 *     closeAfter: 60_000,
 *   },
 * });
 * ```
 */
export interface SessionRateLimit extends RateLimit {
  /**
   * Tighter limits for some paths (REQUEST and SUBSCRIBE), per session, on
   * top of the session's limit.
   */
  paths?: Record<string, RateLimit>;
  /**
   * Close a session that has been over its limit (its requests waiting)
   * for this many milliseconds without a break. Default: never.
   */
  closeAfter?: number;
}

/** Bounds of what a disconnected session buffers for its resumption. */
export interface ResumeBufferOptions {
  /** Updates kept at most; older ones are dropped first. Default 1,024. */
  maxUpdates?: number;
  /** Bytes of update data kept at most. Default 1 MiB. */
  maxBytes?: number;
}

/**
 * The operational part of `ServerOptions`; every one has a default.
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server({
 *   metrics: true,
 *   rateLimit: { perSecond: 50 },
 *   connectionRateLimit: { perSecond: 20, burst: 40 },
 *   resumeGrace: 30_000,
 *   resumeBuffer: { maxUpdates: 1024, maxBytes: 1 << 20 },
 * });
 * ```
 */
export interface OperationsOptions {
  /**
   * Count requests by path and status and time them, for
   * `server.metrics()`. Costs one clock read per request. Default `true`.
   */
  metrics?: boolean;
  /**
   * A span per request through `@opentelemetry/api`. Decided once, when the
   * server is created: by default on when a tracer provider is registered
   * by then (`OTEL_DENO=true`, or an OpenTelemetry SDK), and then off
   * costs nothing per request. The API is loaded (with a dynamic import)
   * only when tracing is on or an OpenTelemetry API is registered;
   * `listen()` and `serve()` wait for it, and requests served before it
   * has loaded are not traced.
   */
  tracing?: boolean;
  /** Per-session rate limits; default none. */
  rateLimit?: SessionRateLimit;
  /**
   * New connections accepted per second from one remote host, with a
   * burst; more are refused at connect. A host is an IPv4 address (also
   * when seen through IPv6: `::ffff:a.b.c.d`, NAT64's `64:ff9b::a.b.c.d`),
   * an IPv6 /64 (the block one IPv6 host usually holds), or a link-local
   * address on its interface. Default none.
   */
  connectionRateLimit?: RateLimit;
  /**
   * Milliseconds a session that asked for a resume token
   * (`/_nanorpc/session`) lingers after its connection drops, waiting for
   * `/_nanorpc/resume`; 0 turns resumption off, Infinity (or 2^31 ms and
   * more) keeps it until resumed or the server stops. Default 30,000. A peer that
   * leaves on purpose says `/_nanorpc/goodbye` first (the client does on
   * `close()`), or closes its WebSocket with 1000 or 1001: its session ends
   * at once. A TCP or UNIX peer that just hangs up lingers for the grace.
   */
  resumeGrace?: number;
  /** What a lingering session buffers for its peer. */
  resumeBuffer?: ResumeBufferOptions;
}
