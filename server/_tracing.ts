// A span per request through @opentelemetry/api: Deno's built-in
// OpenTelemetry (OTEL_DENO=true) or any SDK registered before the server
// is created exports them. The API is an npm package (about 5 MiB of RSS
// with Node compatibility), so it is loaded with a dynamic import, only by
// a server that traces or runs where an OpenTelemetry API is registered;
// `listen()` and `serve()` wait for the load, and until it is done
// requests are not traced.

import type {
  Attributes,
  Context as OtelContext,
  Span,
  Tracer,
} from "@opentelemetry/api";
import { Status, statusName } from "../wasm/wire.ts";
import type { RequestContext } from "./_context.ts";
import type { RequestObserver } from "./_observer.ts";
import type { Route } from "./_router.ts";

/** The instrumentation scope the spans are reported under. */
export const TRACER_NAME = "nanorpc";

/** The `@opentelemetry/api` module. */
export type OtelApi = typeof import("@opentelemetry/api");

/**
 * Where `@opentelemetry/api` 1.x keeps what is registered with it (its
 * tracer provider, context manager, propagator): Deno sets it at startup
 * with OTEL_DENO=true, an SDK when it registers.
 */
const API_GLOBAL = Symbol.for("opentelemetry.js.api.1");

let api: OtelApi | undefined;
let loading: Promise<OtelApi | undefined> | undefined;

/** The OpenTelemetry API when it has loaded, else `undefined`. */
export function otelApi(): OtelApi | undefined {
  return api;
}

/**
 * Loads `@opentelemetry/api` once. Resolves `undefined` when it cannot be
 * loaded: nothing is traced then.
 */
export function loadOtelApi(): Promise<OtelApi | undefined> {
  return loading ??= import("@opentelemetry/api").then(
    (module) => api = module,
    () => undefined,
  );
}

/** Whether an OpenTelemetry API registered anything (with any provider). */
export function otelRegistered(): boolean {
  return registered() !== undefined;
}

function registered(): { trace?: unknown } | undefined {
  return (globalThis as Record<symbol, { trace?: unknown } | undefined>)[
    API_GLOBAL
  ];
}

/**
 * Whether a tracer provider other than the no-op one is registered, i.e.
 * whether spans would go anywhere. Reads the API's registry, so it does
 * not load the API.
 */
export function tracingAvailable(): boolean {
  let provider = registered()?.trace as
    | { getDelegate?: () => unknown }
    | undefined;
  if (provider === undefined) return false;
  if (typeof provider.getDelegate === "function") {
    provider = provider.getDelegate() as typeof provider;
  }
  return provider?.constructor?.name !== "NoopTracerProvider";
}

/** Starts a SERVER span for each request and ends it with the status. */
export class TracingObserver implements RequestObserver {
  #api?: OtelApi;
  #tracer?: Tracer;
  /** Settles when the API has loaded (or failed to: nothing is traced). */
  readonly ready: Promise<unknown>;

  constructor() {
    this.ready = loadOtelApi().then((loaded) => {
      this.#api = loaded;
      this.#tracer = loaded?.trace.getTracer(TRACER_NAME);
    });
  }

  start(ctx: RequestContext): void {
    const api = this.#api;
    if (api === undefined) return;
    const session = ctx.session;
    const path = ctx.route.path;
    const parent = parentOf(api);
    const transport = session.transport;
    const attributes: Attributes = {
      "rpc.system": "nanorpc",
      "rpc.method": path,
      "nanorpc.request_id": ctx.requestId,
      "nanorpc.session_id": session.id,
      "nanorpc.transport": transport,
    };
    const network = networkTransport(transport);
    if (network !== undefined) attributes["network.transport"] = network;
    const span = this.#tracer!.startSpan(
      ctx.kind === "subscribe" ? `SUBSCRIBE ${path}` : path,
      { kind: api.SpanKind.SERVER, attributes },
      parent,
    );
    ctx.trace = api.trace.setSpan(parent, span);
  }

  end(ctx: RequestContext, status: number): void {
    const trace = ctx.trace as OtelContext | undefined;
    if (trace === undefined) return;
    ctx.trace = undefined;
    const api = this.#api!;
    endSpan(api, api.trace.getSpan(trace)!, status);
  }

  refused(_route: Route | undefined, _subscribe: boolean, _status: number) {}

  run<T>(ctx: RequestContext, fn: () => T): T {
    const trace = ctx.trace as OtelContext | undefined;
    return trace === undefined ? fn() : this.#api!.context.with(trace, fn);
  }
}

/**
 * OpenTelemetry's `network.transport` (`tcp`, `udp`, `pipe`, `unix`,
 * `quic`) of a session's transport: TLS and WebSocket ride on TCP. None
 * for a serial line or another byte stream, which are none of these
 * (`nanorpc.transport` names them).
 */
function networkTransport(transport: string): string | undefined {
  switch (transport) {
    case "tcp":
    case "tls":
    case "ws":
    case "wss":
    case "http":
    case "https":
      return "tcp";
    case "unix":
      return "unix";
  }
}

/**
 * Marks the context {@link parseTraceparent} makes: a request started in
 * it (a call forwarded by another node) joins that trace.
 */
const JOIN = Symbol("nanorpc joins this trace");

/**
 * The context a request's span starts in: the trace it was told to join,
 * else none. NanoRPC frames carry no trace context, and whatever context
 * is active where a request is read belongs to whoever accepted the
 * connection (a span around `listen()`, the HTTP request that upgraded a
 * WebSocket): every request of the session would land in that one trace.
 */
function parentOf(api: OtelApi): OtelContext {
  const active = api.context.active();
  return active.getValue(JOIN) === true
    ? active.deleteValue(JOIN)
    : api.ROOT_CONTEXT;
}

/**
 * The W3C `traceparent` of the trace a request read now would join, if
 * any (see {@link parentOf}): what a call forwarded to another node from
 * here carries.
 */
export function joinedTraceparent(): string | undefined {
  const api = otelApi();
  return api && formatTraceparent(api, parentOf(api));
}

/** Ends `span` with a NanoRPC status. */
export function endSpan(api: OtelApi, span: Span, status: number): void {
  span.setAttribute("rpc.nanorpc.status_code", statusName(status));
  if (status !== Status.OK) {
    span.setStatus({
      code: api.SpanStatusCode.ERROR,
      message: statusName(status),
    });
  }
  span.end();
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The W3C `traceparent` of the span active in `ctx`, if any. */
export function formatTraceparent(
  api: OtelApi,
  ctx: OtelContext,
): string | undefined {
  const { trace } = api;
  const span = trace.getSpanContext(ctx);
  if (!span || !trace.isSpanContextValid(span)) return undefined;
  const flags = (span.traceFlags & 0xff).toString(16).padStart(2, "0");
  return `00-${span.traceId}-${span.spanId}-${flags}`;
}

/**
 * The context whose remote parent is `traceparent`, or `base` unchanged
 * when it is not a valid version-00 traceparent. A server span started in
 * it joins that trace.
 */
export function parseTraceparent(
  api: OtelApi,
  traceparent: string,
  base: OtelContext,
): OtelContext {
  const { trace } = api;
  const m = TRACEPARENT.exec(traceparent.trim());
  if (!m) return base;
  const spanContext = {
    traceId: m[1],
    spanId: m[2],
    traceFlags: parseInt(m[3], 16),
    isRemote: true,
  };
  if (!trace.isSpanContextValid(spanContext)) return base;
  return trace.setSpanContext(base, spanContext).setValue(JOIN, true);
}
