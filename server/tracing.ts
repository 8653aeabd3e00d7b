/**
 * Carrying a request's trace across processes. NanoRPC frames have no room
 * for headers, so a span cannot follow a request from a client to a
 * server; between the nodes of a cluster it can: the forwarding node reads
 * {@link currentTraceparent} inside the request and sends it along, and
 * the receiving node serves the forwarded request inside
 * {@link withTraceparent}, so its server span is a child of the first.
 *
 * Both work through `@opentelemetry/api`, which this package loads only
 * when a server is created with tracing on or where an OpenTelemetry API
 * is registered (`OTEL_DENO=true`, an SDK), or at the first call of either
 * where one is registered; until it has loaded they answer as outside any
 * trace.
 *
 * @module
 */

import {
  formatTraceparent,
  loadOtelApi,
  otelApi,
  otelRegistered,
  parseTraceparent,
} from "./_tracing.ts";

/**
 * The OpenTelemetry API if it has loaded. When it has not but something
 * registered with it (an SDK, OTEL_DENO=true), starts loading it, so the
 * calls after the load see the active span even when no traced server
 * loaded it first.
 */
function api(): ReturnType<typeof otelApi> {
  const loaded = otelApi();
  if (loaded === undefined && otelRegistered()) loadOtelApi();
  return loaded;
}

/**
 * The W3C `traceparent` of the span active now (inside a handler or
 * middleware of a traced server: the request's span), or undefined when
 * there is none (tracing is off, or no span is active).
 *
 * @returns e.g. `"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`.
 *
 * @example
 * ```ts
 * import { currentTraceparent, Server } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server();
 * server.handle("/where", () => currentTraceparent() ?? "not traced");
 * ```
 */
export function currentTraceparent(): string | undefined {
  const otel = api();
  return otel && formatTraceparent(otel, otel.context.active());
}

/**
 * Runs `fn` with the remote span named by `traceparent` as the active
 * parent: server spans started inside (and any span `fn` starts) join that
 * trace. An invalid or missing `traceparent` runs `fn` as it is.
 *
 * @param traceparent A W3C traceparent, as {@link currentTraceparent}
 * returns.
 * @param fn What to run; its result is returned.
 * @returns What `fn` returns.
 *
 * @example
 * ```ts
 * import { withTraceparent } from "@nanorpc/nanorpc/server";
 *
 * const answer = withTraceparent(
 *   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
 *   () => "served as part of the caller's trace",
 * );
 * ```
 */
export function withTraceparent<T>(
  traceparent: string | undefined,
  fn: () => T,
): T {
  const otel = api();
  if (!traceparent || otel === undefined) return fn();
  const { context } = otel;
  const active = context.active();
  const parent = parseTraceparent(otel, traceparent, active);
  return parent === active ? fn() : context.with(parent, fn);
}
