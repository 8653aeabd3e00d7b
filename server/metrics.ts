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
  /** The metrics in the Prometheus text format. */
  metrics(): string;
}

/**
 * A `fetch`-style handler answering every request with the server's
 * metrics in the Prometheus text format (GET and HEAD; other methods get
 * 405). Mount it at the path your scraper polls.
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
  server: MetricsSource,
): (request: Request) => Response {
  return (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Use GET to read the metrics\n", {
        status: 405,
        headers: { allow: "GET, HEAD" },
      });
    }
    const body = request.method === "HEAD" ? null : server.metrics();
    return new Response(body, {
      headers: { "content-type": METRICS_CONTENT_TYPE },
    });
  };
}
