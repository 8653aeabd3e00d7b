// A span per request through @opentelemetry/api: Deno's built-in
// OpenTelemetry (OTEL_DENO=true) or any SDK registered before the server
// is created exports them.

import {
  type Context as OtelContext,
  context,
  ProxyTracerProvider,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { Status, statusName } from "../wasm/wire.ts";
import type { RequestContext } from "./_context.ts";
import type { RequestObserver } from "./_observer.ts";
import type { Route } from "./_router.ts";

/** The instrumentation scope the spans are reported under. */
export const TRACER_NAME = "nanorpc";

/**
 * Whether a tracer provider other than the no-op one is registered, i.e.
 * whether spans would go anywhere.
 */
export function tracingAvailable(): boolean {
  let provider: unknown = trace.getTracerProvider();
  const proxy = provider as { getDelegate?: () => unknown };
  if (provider instanceof ProxyTracerProvider || proxy.getDelegate) {
    provider = proxy.getDelegate!();
  }
  const noop = new ProxyTracerProvider().getDelegate();
  return provider !== noop &&
    (provider as object).constructor?.name !== "NoopTracerProvider";
}

/** Starts a SERVER span for each request and ends it with the status. */
export class TracingObserver implements RequestObserver {
  readonly #tracer: Tracer = trace.getTracer(TRACER_NAME);

  start(ctx: RequestContext): void {
    const session = ctx.session;
    const path = ctx.route.path;
    ctx.span = this.#tracer.startSpan(
      ctx.kind === "subscribe" ? `SUBSCRIBE ${path}` : path,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "rpc.system": "nanorpc",
          "rpc.method": path,
          "nanorpc.request_id": ctx.requestId,
          "nanorpc.session_id": session.id,
          "network.transport": session.transport,
        },
      },
      context.active(),
    );
  }

  end(ctx: RequestContext, status: number): void {
    const span = ctx.span as Span | undefined;
    if (span === undefined) return;
    ctx.span = undefined;
    endSpan(span, status);
  }

  refused(_route: Route | undefined, _subscribe: boolean, _status: number) {}

  run<T>(ctx: RequestContext, fn: () => T): T {
    const span = ctx.span as Span | undefined;
    if (span === undefined) return fn();
    return context.with(trace.setSpan(context.active(), span), fn);
  }
}

/** Ends `span` with a NanoRPC status. */
export function endSpan(span: Span, status: number): void {
  span.setAttribute("rpc.nanorpc.status_code", statusName(status));
  if (status !== Status.OK) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: statusName(status) });
  }
  span.end();
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The W3C `traceparent` of the span active in `ctx`, if any. */
export function formatTraceparent(ctx: OtelContext): string | undefined {
  const span = trace.getSpanContext(ctx);
  if (!span || !trace.isSpanContextValid(span)) return undefined;
  const flags = (span.traceFlags & 0xff).toString(16).padStart(2, "0");
  return `00-${span.traceId}-${span.spanId}-${flags}`;
}

/**
 * The context whose remote parent is `traceparent`, or `base` unchanged
 * when it is not a valid version-00 traceparent.
 */
export function parseTraceparent(
  traceparent: string,
  base: OtelContext,
): OtelContext {
  const m = TRACEPARENT.exec(traceparent.trim());
  if (!m) return base;
  const spanContext = {
    traceId: m[1],
    spanId: m[2],
    traceFlags: parseInt(m[3], 16),
    isRemote: true,
  };
  if (!trace.isSpanContextValid(spanContext)) return base;
  return trace.setSpanContext(base, spanContext);
}
