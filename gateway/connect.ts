/**
 * The Connect gateway: every method of every service registered with
 * `server.service` is also served over HTTP -- the Connect protocol (unary
 * JSON and binary, server-streaming) and gRPC-Web -- by a fetch-style
 * handler you mount on the server's HTTP listener (`fallback`), in
 * `Deno.serve`, or in any server that hands you a `Request`.
 *
 * Each HTTP call is made through a NanoRPC session of its own on the
 * server, so it meets the session limit, the handshake hook, middleware,
 * time limits and the handler exactly as a NanoRPC peer's call does. A
 * server-streaming method subscribes to its topic with the request as the
 * filter and streams the updates until the HTTP client goes away.
 *
 * @module
 */

import { createConnectRouter, createContextValues } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import type { DescService, Registry } from "@bufbuild/protobuf";
import { REFLECTION_PATH } from "../protocol/service.ts";
import type { HttpRoute, RequestInfo } from "../server/http.ts";
import { leveledLogger, type Logger } from "../server/logger.ts";
import type { Server } from "../server/server.ts";
import type { Session } from "../server/session.ts";
import { clientGone, toFetchResponse } from "./_fetch.ts";
import { CALL, type CallContext, implement } from "./_implement.ts";
import {
  Loopback,
  SessionEndedError,
  SessionNotReadyError,
} from "./_loopback.ts";
import { type RequestLimits, universalRequest } from "./_request.ts";
import { sessionTracker } from "./_sessions.ts";
import { type GatewayMethod, methodsOf, reflectedMethods } from "./_methods.ts";

export type { GatewayMethod } from "./_methods.ts";

/** How {@link connectGateway} serves. */
export interface ConnectGatewayOptions {
  /**
   * Serve these services' methods. Default: every method the server's
   * reflection lists (all that `server.service` registered), read on the
   * first call and again -- at most once a second -- when a call names a
   * method it does not know yet. Give them when reflection is off.
   */
  services?: readonly DescService[];
  /** Serve the Connect protocol. Default `true`. */
  connect?: boolean;
  /** Serve gRPC-Web. Default `true`. */
  grpcWeb?: boolean;
  /**
   * Prepares each call's session from its HTTP request before the call is
   * made -- to bind a uid or set attributes from an `authorization` header,
   * say. Throw a `NotAuthorizedError` to refuse the call
   * (`permission_denied`); another `NanoRpcError` answers its status and
   * message, as from a handler. Anything else it throws is logged and
   * answered `internal` with a message of the gateway's own: its text
   * never reaches the client.
   *
   * The call waits for the hook no longer than its own time limit: the
   * client's `connect-timeout-ms` (gRPC-Web: `grpc-timeout`), or else
   * {@link ConnectGatewayOptions.sessionTimeoutMs}; past it the client is
   * answered `deadline_exceeded`. An aborted HTTP request
   * (`request.signal`) ends the wait too. Either way the session is
   * closed, so `session.signal` aborts -- pass it to what the hook awaits --
   * and whatever the hook returns or throws later is dropped
   * (`session.bind` throws on the closed session). Under `Deno.serve`,
   * reading `request.signal` prints Deno's one-time notice about its
   * legacy abort behaviour.
   *
   * @example Bind the caller's uid from a bearer token
   * ```ts ignore
   * import { NotAuthorizedError, Server } from "@nanorpc/nanorpc";
   * import { connectGateway } from "@nanorpc/nanorpc/gateway";
   *
   * const server = new Server();
   * const gateway = connectGateway(server, {
   *   async session(session, request) {
   *     const token = request.headers.get("authorization")?.slice(7);
   *     const res = await fetch(`https://auth.example/v1/whoami`, {
   *       headers: { authorization: `Bearer ${token}` },
   *       signal: session.signal,
   *     });
   *     if (!res.ok) throw new NotAuthorizedError("Log in first");
   *     session.bind((await res.json()).uid);
   *   },
   * });
   * ```
   */
  session?: (session: Session, request: Request) => void | Promise<void>;
  /**
   * Longest wait, in ms, for a call's session to be ready -- opened by the
   * server (its handshake hook) and prepared by the `session` hook -- when
   * the client sent no time limit of its own. Past it the call is answered
   * `deadline_exceeded` and its session closed. Default: the server's
   * `handlerTimeout` (30000 unless set), or 30000 when that is 0 (no
   * limit for handlers). 0: no limit but the client's.
   */
  sessionTimeoutMs?: number;
  /**
   * End a call whose HTTP client went away before its answer: the
   * handler's `ctx.signal` aborts and the call's session closes, as for a
   * NanoRPC peer that disconnects. This reads `request.signal`, so under
   * `Deno.serve` in Deno 2's legacy abort mode Deno prints its one-time
   * notice about that mode; run with `--unstable-no-legacy-abort` (the
   * `server` task does) to make it silent, or set `false` to let handlers
   * run on. Default `true`. (Either way a stream ends when its response
   * body is cancelled, and a `session` hook's wait ends when the request
   * is aborted -- which reads `request.signal` too. With `false`, a stream
   * whose client leaves before its first update has no body yet to
   * cancel: its session lasts until that update.)
   */
  abortOnDisconnect?: boolean;
  /**
   * A streaming call's session sends a PING this often, so that the
   * server's `idleTimeout` does not close it. Default 15000 ms, or half
   * the server's `idleTimeout` when that is shorter; 0: never.
   */
  keepaliveMs?: number;
  /**
   * Longest `connect-timeout-ms` a client may ask for; longer ones are
   * refused. Default and cap: 2147483647 (the longest timer there is).
   */
  maxTimeoutMs?: number;
  /**
   * Where the gateway logs why a call's session was refused or ended
   * (reasons the HTTP client is never told). Default: `console`, warnings
   * and errors.
   */
  logger?: Logger;
  /** Answers requests for paths that are no method. Default: 404. */
  fallback?: HttpRoute;
}

/** A Connect and gRPC-Web face of a server. */
export interface ConnectGateway {
  /**
   * The fetch-style handler: serves `POST /<package>.<Service>/<Method>`
   * (and Connect's GET for idempotent methods), passes everything else to
   * `fallback`.
   */
  readonly fetch: HttpRoute;
  /**
   * The methods served now, after reading reflection if it was not read.
   *
   * @returns Every method, with its NanoRPC path.
   */
  methods(): Promise<readonly GatewayMethod[]>;
}

/**
 * Serves the methods of the services registered with `server.service`
 * over the Connect protocol and gRPC-Web, through the server itself.
 * Errors: NOT_FOUND -> `not_found`, NOT_AUTHORIZED -> `permission_denied`,
 * INTERNAL_ERROR -> `internal`; a session that ends or is refused first ->
 * `unavailable`; a `session` hook still pending when the call's time
 * limit passes -> `deadline_exceeded`. Request bodies are bounded by the server's
 * `maxMessageSize` (`resource_exhausted` beyond it). gRPC over HTTP/2
 * needs trailers, which fetch-style servers cannot send: it is not served.
 *
 * @param server The server whose handlers and topics are called.
 * @param options Which services, protocols and hooks.
 * @returns The gateway; mount `gateway.fetch`.
 *
 * @example On the server's own HTTP listener
 * ```ts ignore
 * import { Server } from "@nanorpc/nanorpc/server";
 * import { connectGateway } from "@nanorpc/nanorpc/gateway";
 * import { Room } from "@nanorpc/nanorpc/proto/chat";
 *
 * const server = new Server();
 * server.service(Room, { join: () => {}, send: () => {} });
 * const gateway = connectGateway(server);
 * await server.listen({ http: { port: 8080, fallback: gateway.fetch } });
 * // curl -X POST localhost:8080/nanorpc_demo.Room/Send \
 * //   -H 'content-type: application/json' -d '{"text":"hi"}'
 * ```
 */
export function connectGateway(
  server: Server,
  options: ConnectGatewayOptions = {},
): ConnectGateway {
  const fallback = options.fallback ?? notFound;
  const idle = server.idleTimeout;
  const keepaliveMs = options.keepaliveMs ??
    (idle > 0 ? Math.min(15_000, Math.max(1, Math.floor(idle / 2))) : 15_000);
  const abortOnDisconnect = options.abortOnDisconnect ?? true;
  const track = sessionTracker(server);
  const hook = options.session;
  const logger = options.logger ?? leveledLogger("warn");
  const sessionTimeoutMs = Math.min(
    Math.max(
      options.sessionTimeoutMs ?? (server.handlerTimeout || 30_000),
      0,
    ),
    MAX_TIMER_MS,
  );
  // A call with a time limit of its own (`timeoutMs`) is ended by it
  // through the handler's signal; the others wait `sessionTimeoutMs`.
  const open = (
    values: CallContext | undefined,
    timeoutMs?: number,
    maxResponseSize = 2 * server.maxMessageSize,
  ): Loopback =>
    new Loopback(server, {
      remoteAddr: values?.remoteAddr ?? { transport: "gateway" },
      maxMessageSize: maxResponseSize,
      maxRequestSize: server.maxMessageSize,
      keepaliveMs,
      track,
      prepare: hook && values ? (s) => hook(s, values.request) : undefined,
      readyTimeoutMs: timeoutMs === undefined ? sessionTimeoutMs : 0,
      // Only a hook's wait reads the request's signal (see `session`).
      signal: hook && values ? values.request.signal : undefined,
    });
  // Reflection carries every .proto file the server serves: it is not
  // bounded by the messages' maxMessageSize (a small one for small
  // devices), only by what the server may write at all.
  const request = async (path: string, data: Uint8Array) => {
    const call = open(undefined, undefined, MAX_REFLECTION_SIZE);
    try {
      return await call.request(path, data);
    } finally {
      call.close("the call is done");
    }
  };

  // The last table read; a reload replaces it only when it succeeds, and
  // calls keep being served from it meanwhile.
  let table: Map<string, UniversalHandler> | undefined;
  let loading: Promise<Map<string, UniversalHandler>> | undefined;
  let readAt = -Infinity;
  /** The last failed read, answered again for a second (no read per call). */
  let failed: { at: number; error: unknown } | undefined;
  const load = () => {
    if (loading) return loading;
    readAt = performance.now();
    const current: Promise<Map<string, UniversalHandler>> = build()
      .then((built) => (table = built), (error) => {
        failed = { at: performance.now(), error };
        throw error;
      })
      .finally(() => {
        if (loading === current) loading = undefined;
      });
    loading = current;
    return current;
  };
  const ready = () =>
    table
      ? Promise.resolve(table)
      : failed && performance.now() - failed.at < 1000
      ? Promise.reject(failed.error)
      : load();
  let reported: unknown;
  const build = async () => {
    if (options.services) {
      return handlers(methodsOf(options.services), undefined);
    }
    const { methods, registry } = await reflectedMethods(request);
    return handlers(methods, registry);
  };
  const limits: RequestLimits = {
    readMaxBytes: server.maxMessageSize,
    maxTimeoutMs: Math.min(options.maxTimeoutMs || MAX_TIMER_MS, MAX_TIMER_MS),
  };
  const handlers = (methods: GatewayMethod[], registry?: Registry) => {
    const router = createConnectRouter({
      grpc: false,
      grpcWeb: options.grpcWeb ?? true,
      connect: options.connect ?? true,
      ...limits,
      writeMaxBytes: 2 * server.maxMessageSize,
      jsonOptions: registry ? { registry } : undefined,
    });
    for (const m of methods) {
      router.rpc(m.method, implement(m, open, logger) as never);
    }
    gateway.served = methods;
    return new Map(router.handlers.map((h) => [h.requestPath, h]));
  };
  const lookup = async (pathname: string) => {
    const found = (await ready()).get(pathname);
    if (found || options.services || performance.now() - readAt < 1000) {
      return found;
    }
    try {
      return (await load()).get(pathname);
    } catch (error) {
      logger.warn(`gateway could not reread reflection: ${errorText(error)}`);
      return undefined;
    }
  };

  const gateway = {
    served: [] as readonly GatewayMethod[],
    async fetch(request: Request, info?: RequestInfo): Promise<Response> {
      const { pathname } = new URL(request.url);
      if (!isMethodPath(pathname)) return fallback(request, info);
      let handler: UniversalHandler | undefined;
      try {
        handler = await lookup(pathname);
      } catch (error) {
        if (error !== reported) {
          reported = error; // once per failed read, not per call
          logger.warn(`gateway could not read reflection: ${errorText(error)}`);
        }
        return unavailable();
      }
      if (!handler) return fallback(request, info);
      const universal = universalRequest(request, handler, limits);
      if (universal instanceof Response) return universal;
      const addr = info?.remoteAddr;
      const call: CallContext = {
        request,
        remoteAddr: addr && "hostname" in addr
          ? { transport: "gateway", hostname: addr.hostname, port: addr.port }
          : { transport: "gateway" },
      };
      const gone = clientGone(request, info, abortOnDisconnect);
      const response = await handler({
        httpVersion: "",
        method: request.method,
        url: request.url,
        ...universal,
        signal: gone.signal,
        contextValues: createContextValues().set(CALL, call),
      });
      return toFetchResponse(response, gone);
    },
    async methods() {
      await ready();
      return gateway.served;
    },
  };
  return { fetch: gateway.fetch, methods: gateway.methods };
}

/** Longer timers fire at once: `setTimeout` clamps them to 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Largest reflection answer read, in bytes. The server's outgoing buffer
 * (4 MiB by default) bounds it first: a bigger answer closes the session.
 */
const MAX_REFLECTION_SIZE = 64 * 1024 * 1024;

/** `/<package>.<Service>/<Method>`: the shape of a gRPC and Connect path. */
function isMethodPath(pathname: string): boolean {
  return /^\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/.test(pathname);
}

/** Connect's error body for a gateway that cannot read reflection. */
function unavailable(): Response {
  return Response.json({
    code: "unavailable",
    message:
      `The gateway could not read the server's reflection (the reason is in the server's log): let ${REFLECTION_PATH} through the middleware, or give connectGateway its services`,
  }, { status: 503 });
}

function errorText(error: unknown): string {
  if (error instanceof SessionEndedError) {
    return `session ended: ${error.reason}`;
  }
  if (error instanceof SessionNotReadyError) {
    return `session not ready: ${error.reason}`;
  }
  return error instanceof Error ? error.message : String(error);
}

function notFound(request: Request): Response {
  return new Response(
    `No method at ${
      new URL(request.url).pathname
    }: Connect and gRPC-Web calls go to /<package>.<Service>/<Method>\n`,
    { status: 404, headers: { "content-type": "text/plain" } },
  );
}
