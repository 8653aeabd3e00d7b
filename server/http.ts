/**
 * The HTTP face of a server, as fetch-style handlers you mount in
 * `Deno.serve`, Hono, Oak or any server that hands you a `Request`: the
 * WebSocket endpoint (NanoRPC frames in binary messages), the browser
 * client as an ES module, and the demo chat page. `server.listen({ http })`
 * binds the same handler on its own port.
 *
 * Every file served comes from the package itself (text imports, cached
 * with the code): nothing is fetched at run time.
 *
 * @module
 */

import type { WebSocketStats } from "../transport/websocket.ts";
import { router, upgrader } from "./_http.ts";
import type { Server } from "./server.ts";
import { defaultMaxBufferedIn } from "../transport/_inbound.ts";
import type { OriginPolicy } from "./_ws_policy.ts";

export type { OriginPolicy } from "./_ws_policy.ts";

/**
 * What the handlers know of the connection a request came on: `Deno.serve`
 * passes its `ServeHandlerInfo`; other servers may pass nothing.
 */
export interface RequestInfo {
  /** The peer's address; network addresses have `hostname` and `port`. */
  readonly remoteAddr?: Deno.Addr;
}

/** A fetch-style handler: `Deno.serve`'s, Hono's `c.req.raw` and friends. */
export type HttpRoute = (
  request: Request,
  info?: RequestInfo,
) => Response | Promise<Response>;

/** How {@link websocketHandler} adapts the sockets it upgrades. */
export interface WebSocketHandlerOptions {
  /**
   * Bytes a socket may have received and not yet had read; beyond it the
   * socket is closed with 1009 (WebSockets push messages with no
   * backpressure). Default: twice the server's `maxMessageSize`, and at
   * least 64 KiB more than it (peers send messages of up to 64 KiB).
   */
  maxBufferedIn?: number;
  /** Where to count 1003 and 1009 closes; a fresh object by default. */
  stats?: WebSocketStats;
  /**
   * Which web pages may open a socket. A browser names the page's origin
   * in every upgrade (`Origin: https://game.example`), cookies included,
   * so without a check any site a player visits can open a session as
   * that player. A list of origins (`scheme://host[:port]`): upgrades
   * naming another get 403, upgrades naming none (clients that are not
   * browsers) are served. Or a function deciding, given the Origin header
   * (`null` when there is none). Default: every origin.
   *
   * @example Only the game's own pages
   * ```ts ignore
   * httpHandler(server, { origins: ["https://game.example"] });
   * ```
   */
  origins?: OriginPolicy;
  /**
   * WebSocket subprotocols the endpoint speaks, preferred first. A client
   * offering subprotocols (`new WebSocket(url, ["nanorpc"])`) is answered
   * with the first of these it offered, and refused with 400 when it
   * offered none of them (a browser fails a socket whose server picks no
   * subprotocol it offered). A client offering none is served. Default
   * `["nanorpc"]`.
   */
  protocols?: readonly string[];
}

/** How {@link httpHandler} routes requests. */
export interface HttpHandlerOptions extends WebSocketHandlerOptions {
  /** Path of the WebSocket endpoint. Default `"/nanorpc"`. */
  path?: string;
  /**
   * More routes by exact pathname (`"/metrics"`, say). They come after the
   * WebSocket endpoint and before the built-in files, so `"/"` replaces
   * the demo page.
   */
  routes?: Readonly<Record<string, HttpRoute>>;
  /** Serve the demo chat page at `/`. Default `true`. */
  demoPage?: boolean;
  /** Answers what nothing else matched. Default: 404. */
  fallback?: HttpRoute;
}

/** Path of the WebSocket endpoint unless told otherwise. */
export const DEFAULT_WEBSOCKET_PATH = "/nanorpc";

/**
 * A handler that upgrades every request it is given to a WebSocket and
 * serves a NanoRPC session over it (mount it at the path you like). A
 * request that is not a WebSocket upgrade gets 426. The session has the
 * server's limits; in addition, a text message closes the socket with
 * 1003 and unread bytes past `maxBufferedIn` with 1009.
 *
 * @param server The server whose session it becomes.
 * @param options The inbound bound and where to count closes.
 * @returns The handler.
 *
 * @example With Hono
 * ```ts ignore
 * import { Hono } from "hono";
 * import { Server, websocketHandler } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server();
 * server.handle("/echo", (ctx) => ctx.data);
 * const upgrade = websocketHandler(server);
 * const app = new Hono();
 * app.get("/rpc", (c) => upgrade(c.req.raw, c.env));
 * Deno.serve(app.fetch);
 * ```
 */
export function websocketHandler(
  server: Server,
  options: WebSocketHandlerOptions = {},
): HttpRoute {
  return upgrader((stream) => {
    server.serve(stream).catch(() => stream.close("the session failed"));
  }, {
    maxBufferedIn: options.maxBufferedIn ??
      defaultMaxBufferedIn(server.maxMessageSize),
    stats: options.stats ?? { inboundOverflows: 0, textMessages: 0 },
    origins: options.origins,
    protocols: options.protocols,
  });
}

/**
 * The whole HTTP face as one handler: the WebSocket endpoint at `path`,
 * your `routes`, the browser client at `/nanorpc.js`, the demo chat page at
 * `/` (with `/chat.css`, `/chat.js`, `/chat_proto.js`), then `fallback`.
 *
 * @param server The server the WebSocket sessions belong to.
 * @param options Paths, extra routes and the WebSocket bounds.
 * @returns The handler, for `Deno.serve` or any fetch-style server.
 *
 * @example
 * ```ts ignore
 * import { httpHandler, Server } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server();
 * server.handle("/echo", (ctx) => ctx.data);
 * Deno.serve({ port: 8080 }, httpHandler(server, {
 *   routes: { "/health": () => new Response("ok") },
 * }));
 * // Browsers: import { connect } from "/nanorpc.js";
 * //           await connect("ws://localhost:8080/nanorpc");
 * ```
 */
export function httpHandler(
  server: Server,
  options: HttpHandlerOptions = {},
): HttpRoute {
  return router(websocketHandler(server, options), options);
}
