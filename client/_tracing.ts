/**
 * CLIENT spans for requests and subscribes, through a tracer the caller
 * gives (`ClientOptions.tracer`). Only types come from
 * `@opentelemetry/api`, so the client (and its browser bundle) does not
 * load it.
 *
 * @module
 */

import type { Span, Tracer } from "@opentelemetry/api";
import { NanoRpcError } from "../protocol/errors.ts";
import { statusName } from "../wasm/wire.ts";

/** `SpanKind.CLIENT` of `@opentelemetry/api`. */
const CLIENT = 2;
/** `SpanStatusCode.ERROR` of `@opentelemetry/api`. */
const ERROR = 2;

/**
 * Starts a span named `name` for `outcome` and ends it when it settles:
 * with the status name on success, or as an error with the failure.
 */
export function traced<T>(
  tracer: Tracer,
  name: string,
  path: string,
  outcome: Promise<T>,
): Promise<T> {
  const span: Span = tracer.startSpan(name, {
    kind: CLIENT,
    attributes: { "rpc.system": "nanorpc", "rpc.method": path },
  });
  outcome.then(
    () => {
      span.setAttribute("rpc.nanorpc.status_code", "OK");
      span.end();
    },
    (error: unknown) => {
      if (error instanceof NanoRpcError) {
        span.setAttribute("rpc.nanorpc.status_code", statusName(error.status));
      }
      span.setStatus({
        code: ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
      span.end();
    },
  );
  return outcome;
}
