/**
 * The Connect gateway: every method of every service registered with
 * `server.service` is also served over HTTP — the Connect protocol (unary
 * JSON and binary, server-streaming) and gRPC-Web — by a fetch-style
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

import {
  Code,
  ConnectError,
  createConnectRouter,
  createContextKey,
  createContextValues,
  type HandlerContext,
} from "@connectrpc/connect";
import {
  type UniversalHandler,
  type UniversalServerResponse,
  universalServerResponseToFetch,
} from "@connectrpc/connect/protocol";
import {
  type DescMessage,
  type DescService,
  fromBinary,
  type Registry,
  toBinary,
} from "@bufbuild/protobuf";
import { NanoRpcError } from "../protocol/errors.ts";
import type { HttpRoute, RequestInfo } from "../server/http.ts";
import type { Server } from "../server/server.ts";
import type { Session } from "../server/session.ts";
import type { PeerAddress } from "../transport/byte_stream.ts";
import { Status } from "../wasm/wire.ts";
import { Loopback, SessionEndedError } from "./_loopback.ts";
import { type GatewayMethod, methodsOf, reflectedMethods } from "./_methods.ts";

export type { GatewayMethod } from "./_methods.ts";

/** How {@link connectGateway} serves. */
export interface ConnectGatewayOptions {
  /**
   * Serve these services' methods. Default: every method the server's
   * reflection lists (all that `server.service` registered), read on the
   * first call and again — at most once a second — when a call names a
   * method it does not know yet. Give them when reflection is off.
   */
  services?: readonly DescService[];
  /** Serve the Connect protocol. Default `true`. */
  connect?: boolean;
  /** Serve gRPC-Web. Default `true`. */
  grpcWeb?: boolean;
  /**
   * Prepares each call's session from its HTTP request before the call is
   * made — to bind a uid or set attributes from an `authorization` header,
   * say. Throw a `NotAuthorizedError` to refuse the call
   * (`permission_denied`).
   */
  session?: (session: Session, request: Request) => void | Promise<void>;
  /**
   * A streaming call's session sends a PING this often, so that the
   * server's `idleTimeout` does not close it. Default 15000 ms; 0: never.
   */
  keepaliveMs?: number;
  /** Longest `connect-timeout-ms` a client may ask for. Default: none. */
  maxTimeoutMs?: number;
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

interface CallContext {
  readonly request: Request;
  readonly remoteAddr: PeerAddress;
}

const CALL = createContextKey<CallContext | undefined>(undefined, {
  description: "the HTTP request of a gateway call",
});

/**
 * Connect's code for a NanoRPC status: NOT_FOUND → `not_found`,
 * NOT_AUTHORIZED → `permission_denied`, INTERNAL_ERROR → `internal`,
 * anything else → `unknown`.
 *
 * @param status A NanoRPC response status.
 * @returns The Connect code.
 *
 * @example
 * ```ts
 * import { Code } from "@connectrpc/connect";
 * import { connectCode } from "@nanorpc/nanorpc/gateway";
 * import { Status } from "@nanorpc/nanorpc";
 *
 * console.log(connectCode(Status.NOT_FOUND) === Code.NotFound); // true
 * ```
 */
export function connectCode(status: number): Code {
  switch (status) {
    case Status.NOT_FOUND:
      return Code.NotFound;
    case Status.NOT_AUTHORIZED:
      return Code.PermissionDenied;
    case Status.INTERNAL_ERROR:
      return Code.Internal;
    default:
      return Code.Unknown;
  }
}

/** What a failed NanoRPC call becomes for the HTTP client. */
function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof NanoRpcError) {
    return new ConnectError(error.message, connectCode(error.status));
  }
  if (error instanceof SessionEndedError) {
    return new ConnectError(error.message, Code.Unavailable);
  }
  return new ConnectError(
    "The gateway failed to make the call; see the server's log",
    Code.Internal,
    undefined,
    undefined,
    error,
  );
}

/**
 * Serves the methods of the services registered with `server.service`
 * over the Connect protocol and gRPC-Web, through the server itself.
 * Errors: NOT_FOUND → `not_found`, NOT_AUTHORIZED → `permission_denied`,
 * INTERNAL_ERROR → `internal`; a session that ends or is refused first →
 * `unavailable`. Request bodies are bounded by the server's
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
  const keepaliveMs = options.keepaliveMs ?? 15_000;
  const prepare = options.session ? sessionPreparer(server) : undefined;
  const open = (values: CallContext | undefined): Loopback => {
    const remoteAddr = values?.remoteAddr ?? { transport: "gateway" };
    const ready = prepare && values ? Promise.withResolvers<void>() : undefined;
    const call = new Loopback(server, {
      remoteAddr,
      maxMessageSize: 2 * server.maxMessageSize,
      keepaliveMs,
      opened: ready?.promise,
    });
    // The session opens after this turn at the earliest (serve is async),
    // so the preparer is waiting for it in time.
    if (ready) {
      prepare!(
        remoteAddr,
        call.ended,
        (s) => options.session!(s, values!.request),
      ).then(ready.resolve, ready.reject);
    }
    return call;
  };
  const request = async (path: string, data: Uint8Array) => {
    const call = open(undefined);
    try {
      return await call.request(path, data);
    } finally {
      call.close("the call is done");
    }
  };

  let table: Promise<Map<string, UniversalHandler>> | undefined;
  let readAt = -Infinity;
  const build = async () => {
    readAt = performance.now();
    if (options.services) {
      return handlers(methodsOf(options.services), undefined);
    }
    const { methods, registry } = await reflectedMethods(request);
    return handlers(methods, registry);
  };
  const handlers = (methods: GatewayMethod[], registry?: Registry) => {
    const router = createConnectRouter({
      grpc: false,
      grpcWeb: options.grpcWeb ?? true,
      connect: options.connect ?? true,
      readMaxBytes: server.maxMessageSize,
      writeMaxBytes: 2 * server.maxMessageSize,
      maxTimeoutMs: options.maxTimeoutMs ?? 0,
      jsonOptions: registry ? { registry } : undefined,
    });
    for (const m of methods) router.rpc(m.method, implement(m, open) as never);
    gateway.served = methods;
    return new Map(router.handlers.map((h) => [h.requestPath, h]));
  };
  const lookup = async (pathname: string) => {
    table ??= build();
    table.catch(() => table = undefined);
    const found = (await table).get(pathname);
    if (found || options.services || !isMethodPath(pathname)) return found;
    if (performance.now() - readAt < 1000) return undefined;
    table = build();
    return (await table).get(pathname);
  };

  const gateway = {
    served: [] as readonly GatewayMethod[],
    async fetch(request: Request, info?: RequestInfo): Promise<Response> {
      const { pathname } = new URL(request.url);
      const handler = await lookup(pathname);
      if (!handler) return fallback(request, info);
      const addr = info?.remoteAddr;
      const call: CallContext = {
        request,
        remoteAddr: addr && "hostname" in addr
          ? { transport: "gateway", hostname: addr.hostname, port: addr.port }
          : { transport: "gateway" },
      };
      const gone = clientGone(request, info);
      const response = await handler({
        httpVersion: "",
        method: request.method,
        url: request.url,
        header: request.headers,
        body: request.body ?? NO_BODY,
        signal: gone.signal,
        contextValues: createContextValues().set(CALL, call),
      });
      return toFetchResponse(response, gone);
    },
    async methods() {
      await (table ??= build());
      return gateway.served;
    },
  };
  return { fetch: gateway.fetch, methods: gateway.methods };
}

/** The Connect implementation of one method: a call through a session. */
function implement(
  m: GatewayMethod,
  open: (call: CallContext | undefined) => Loopback,
) {
  const input: DescMessage = m.method.input;
  const output: DescMessage = m.method.output;
  if (m.kind === "request") {
    return async (message: never, ctx: HandlerContext) => {
      const call = open(ctx.values.get(CALL));
      try {
        const data = await call.request(m.path, toBinary(input, message));
        return fromBinary(output, data);
      } catch (error) {
        throw toConnectError(error);
      } finally {
        call.close("the call is done");
      }
    };
  }
  return async function* (
    message: never,
    ctx: HandlerContext,
  ) {
    const call = open(ctx.values.get(CALL));
    const stop = () => call.close("the HTTP client went away");
    ctx.signal.addEventListener("abort", stop, { once: true });
    try {
      for await (
        const data of call.subscribe(m.path, toBinary(input, message))
      ) {
        yield fromBinary(output, data);
      }
    } catch (error) {
      throw toConnectError(error);
    } finally {
      ctx.signal.removeEventListener("abort", stop);
      stop();
    }
  };
}

/**
 * Waits for the `sessionopen` of a loopback session (found by its address
 * object) and runs the hook on it.
 */
function sessionPreparer(server: Server) {
  const waiting = new Map<PeerAddress, (session: Session) => void>();
  server.addEventListener("sessionopen", (event) => {
    const session = (event as Event & { session: Session }).session;
    const resolve = waiting.get(session.remoteAddr);
    if (!resolve) return;
    waiting.delete(session.remoteAddr);
    resolve(session);
  });
  return async (
    remoteAddr: PeerAddress,
    ended: Promise<void>,
    hook: (session: Session) => void | Promise<void>,
  ) => {
    try {
      const session = await Promise.race([
        new Promise<Session>((resolve) => waiting.set(remoteAddr, resolve)),
        ended,
      ]);
      if (session) await hook(session);
    } finally {
      waiting.delete(remoteAddr);
    }
  };
}

const NO_BODY: AsyncIterable<Uint8Array> = {
  async *[Symbol.asyncIterator]() {},
};

/**
 * Aborts when the HTTP client goes away: when `Deno.serve`'s
 * `info.completed` rejects, or else when `request.signal` aborts. (Under
 * `Deno.serve`, `request.signal` also aborts once a response has been
 * delivered, and warns when listened to.) The response body aborts it
 * too when it is cancelled.
 */
function clientGone(request: Request, info?: RequestInfo): AbortController {
  const controller = new AbortController();
  const completed = (info as { completed?: Promise<void> } | undefined)
    ?.completed;
  if (completed instanceof Promise) {
    completed.catch((error) => controller.abort(error));
  } else {
    request.signal.addEventListener(
      "abort",
      () => controller.abort(request.signal.reason),
      { once: true },
    );
  }
  return controller;
}

/**
 * The fetch `Response` of a Connect answer. Unlike connect-es's
 * `universalServerResponseToFetch`, cancelling its body (the client went
 * away) aborts the call at once: an async generator's `throw` waits for
 * the `next` in progress, which for a quiet stream is the next update.
 */
function toFetchResponse(
  response: UniversalServerResponse,
  gone: AbortController,
): Response {
  const source = response.body;
  if (source === undefined || !(Symbol.asyncIterator in Object(source))) {
    return universalServerResponseToFetch(response);
  }
  const it = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await it.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel(reason) {
      gone.abort(reason);
      it.throw?.(reason).catch(() => {});
    },
  });
  return new Response(body, {
    status: response.status,
    headers: response.header,
  });
}

/** `/<package>.<Service>/<Method>`: the shape of a gRPC and Connect path. */
function isMethodPath(pathname: string): boolean {
  return /^\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/.test(pathname);
}

function notFound(request: Request): Response {
  return new Response(
    `No method at ${
      new URL(request.url).pathname
    }: Connect and gRPC-Web calls go to /<package>.<Service>/<Method>\n`,
    { status: 404, headers: { "content-type": "text/plain" } },
  );
}
