/**
 * The HTTP listener of a server (`server.listen({ http })`): `Deno.serve`
 * with the handler of server/http.ts, whose WebSocket sessions go through
 * the server's accept loop like those of a TCP listener. TLS (`https://`
 * and `wss://`) with a certificate and key.
 *
 * @module
 */

import type {
  WebSocketByteStream,
  WebSocketStats,
} from "../transport/websocket.ts";
import { router, upgrader } from "./_http.ts";
import type { HttpHandlerOptions } from "./http.ts";
import type { OpenListener } from "./listener.ts";
import type { Logger } from "./logger.ts";
import { defaultMaxBufferedIn } from "../transport/_inbound.ts";

/** Where and how the HTTP listener binds, and what it serves. */
export interface HttpServeOptions extends HttpHandlerOptions {
  /** Interface to bind; default `"127.0.0.1"`. */
  hostname?: string;
  /** Port to bind; `0` picks a free one. Default 8080. */
  port?: number;
  /** PEM certificate chain: with `key`, serve HTTPS and `wss://`. */
  cert?: string;
  /** PEM private key, with `cert`. */
  key?: string;
}

/**
 * Listen for HTTP: the WebSocket endpoint (`/nanorpc`), the browser client
 * (`/nanorpc.js`), the demo chat page (`/`) and your own routes.
 */
export interface HttpListenOptions {
  /** The HTTP listener's address, TLS and routes. */
  http: HttpServeOptions;
}

/** Default port of `server.listen({ http: {} })`. */
export const DEFAULT_HTTP_PORT = 8080;

/** Upgraded sockets waiting for the accept loop, at most. */
const MAX_WAITING = 1024;
/**
 * How long `release` lets closing sockets finish their close handshake
 * before the HTTP server's shutdown cuts them (with 1001).
 */
const CLOSE_GRACE_MS = 2000;
/**
 * How long `release` lets the HTTP server's own requests finish (a body
 * still arriving, a response a client is not reading) before it cuts every
 * connection.
 */
const HTTP_GRACE_MS = 2000;

/** What the listener takes from its server. */
export interface HttpListenerHost {
  /** The server's limits: sockets buffer twice `maxMessageSize` inbound. */
  readonly limits: { readonly maxMessageSize: number };
  readonly logger: Logger;
}

/**
 * Binds `Deno.serve`. Its `close` stops upgrades (503) and ends the accept
 * loop, but leaves the HTTP server up, since shutting it down cuts every
 * upgraded socket: `release`, after the sessions have drained, does that.
 */
export async function openHttpListener(
  options: HttpServeOptions,
  host: HttpListenerHost,
): Promise<OpenListener> {
  const tls = options.cert !== undefined && options.key !== undefined;
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new TypeError(
      "Give both cert and key to serve HTTPS, or neither for plain HTTP",
    );
  }
  const waiting: WebSocketByteStream[] = [];
  const open = new Set<WebSocket>();
  let next: PromiseWithResolvers<WebSocketByteStream> | undefined;
  let closed = false;
  const stats: WebSocketStats = options.stats ??
    { inboundOverflows: 0, textMessages: 0 };
  const upgrade = upgrader((stream) => {
    const socket = stream.socket;
    open.add(socket);
    socket.addEventListener("close", () => open.delete(socket));
    if (next) {
      next.resolve(stream);
      next = undefined;
    } else waiting.push(stream);
  }, {
    maxBufferedIn: options.maxBufferedIn ??
      defaultMaxBufferedIn(host.limits.maxMessageSize),
    stats,
    origins: options.origins,
    protocols: options.protocols,
  });
  const handler = router((request, info) => {
    if (closed || waiting.length >= MAX_WAITING) {
      return new Response(
        closed
          ? "Not accepting sessions here any more (closed, or the server is shutting down); reconnect shortly\n"
          : "Too many connections waiting; retry shortly\n",
        { status: 503, headers: { "retry-after": "1" } },
      );
    }
    return upgrade(request, info);
  }, options);
  const ready = Promise.withResolvers<void>();
  // Ends the HTTP server and every connection (Deno.serve's signal); its
  // graceful shutdown() would wait for any request forever.
  const cut = new AbortController();
  /** Requests whose responses are not yet fully sent. */
  const inflight = new Set<Promise<void>>();
  const server = Deno.serve({
    signal: cut.signal,
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? DEFAULT_HTTP_PORT,
    ...(tls ? { cert: options.cert, key: options.key } : {}),
    onListen: () => ready.resolve(),
    onError(error) {
      host.logger.error(
        `HTTP handler failed: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
      return new Response("Internal server error\n", { status: 500 });
    },
  }, (request, info) => {
    const done = info.completed.catch(() => {});
    inflight.add(done);
    done.then(() => inflight.delete(done));
    return handler(request, info);
  });
  await ready.promise;
  const addr = server.addr;
  const name = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  const transport = tls ? "https" : "http";
  let released: Promise<void> | undefined;
  return {
    addr,
    url: `${transport}://${name}:${addr.port}`,
    transport,
    accept() {
      const stream = waiting.shift();
      if (stream) return Promise.resolve(stream);
      if (closed) {
        return Promise.reject(
          new Deno.errors.BadResource("The HTTP listener is closed"),
        );
      }
      next = Promise.withResolvers();
      return next.promise;
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      next?.reject(new Deno.errors.BadResource("The HTTP listener is closed"));
      next = undefined;
      for (const stream of waiting.splice(0)) {
        stream.close("listener closed; reconnect shortly");
      }
      return Promise.resolve();
    },
    release() {
      closed = true;
      return released ??= (async () => {
        await closeHandshakes(open, CLOSE_GRACE_MS);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<"late">((resolve) =>
          timer = setTimeout(() => resolve("late"), HTTP_GRACE_MS)
        );
        const answered = Promise.all(inflight).then(() => "answered");
        if (await Promise.race([answered, late]) === "late") {
          host.logger.warn(
            `${inflight.size} HTTP requests were still open ${HTTP_GRACE_MS} ms into shutdown (a request body still arriving, or a response nobody reads): closing their connections`,
          );
        }
        clearTimeout(timer);
        cut.abort();
        await server.finished;
      })();
    },
  };
}

/**
 * Waits (at most `ms`) for the sockets to finish closing: the sessions have
 * sent their close frames, and the peers' replies complete the handshake.
 */
async function closeHandshakes(sockets: Set<WebSocket>, ms: number) {
  if (sockets.size === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const all = [...sockets].map((socket) =>
    new Promise<void>((resolve) => {
      if (socket.readyState === WebSocket.CLOSED) resolve();
      else socket.addEventListener("close", () => resolve(), { once: true });
    })
  );
  await Promise.race([
    Promise.all(all),
    new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
  ]);
  clearTimeout(timer);
}
