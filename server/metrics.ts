/**
 * Prometheus metrics of a server, over HTTP: mount {@link metricsHandler}
 * on any `fetch`-style server (`deno task server --http` serves it at
 * `/metrics`). The text comes from `server.metrics()`; the README's
 * "Operations" section lists every metric.
 *
 * @module
 */

/** Content type of the Prometheus text exposition format 0.0.4. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** What {@link metricsHandler} needs of a server. */
export interface MetricsSource {
  /**
   * The metrics in the Prometheus text format: a server's `metrics()`, or
   * a promise of them (a worker pool's, say).
   */
  metrics(): string | Promise<string>;
}

/**
 * A `fetch`-style handler answering every request with the server's
 * metrics in the Prometheus text format (GET and HEAD; other methods get
 * 405). Mount it at the path your scraper polls. With a source whose
 * metrics are a promise (`Workers.metrics()` of a pool, which a worker
 * reaches as `ctx.metrics`), the handler answers with a promise, and
 * with 503 when the source fails.
 *
 * @param server The server (or anything with a `metrics()` method).
 * @returns The handler.
 *
 * @example
 * ```ts ignore
 * import { metricsHandler, Server } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server();
 * await server.listen({ port: 7411 });
 * const metrics = metricsHandler(server);
 * Deno.serve({ port: 9464 }, (req) =>
 *   new URL(req.url).pathname === "/metrics"
 *     ? metrics(req)
 *     : new Response("not found", { status: 404 }));
 * ```
 */
export function metricsHandler(
  server: { metrics(): string },
): (request: Request) => Response;
/**
 * {@link metricsHandler} of a source whose metrics may be a promise.
 *
 * @param server Anything with a `metrics()` method.
 * @returns The handler.
 */
export function metricsHandler(
  server: MetricsSource,
): (request: Request) => Response | Promise<Response>;
export function metricsHandler(
  server: MetricsSource,
): (request: Request) => Response | Promise<Response> {
  return (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Use GET to read the metrics\n", {
        status: 405,
        headers: { allow: "GET, HEAD" },
      });
    }
    const text = server.metrics();
    if (typeof text === "string") return answer(request, text);
    return text.then((text) => answer(request, text), (err) =>
      new Response(
        `Metrics unavailable: ${err instanceof Error ? err.message : err}\n`,
        { status: 503 },
      ));
  };
}

function answer(request: Request, text: string): Response {
  const headers: Record<string, string> = {
    "content-type": METRICS_CONTENT_TYPE,
  };
  if (request.method !== "HEAD") return new Response(text, { headers });
  // HEAD states the length GET would send (paths may be any Unicode).
  headers["content-length"] = String(new TextEncoder().encode(text).length);
  return new Response(null, { headers });
}
