/**
 * The gateway's other direction: NanoRPC inside, HTTP upstream. A device
 * speaks NanoRPC to this server; the server forwards its calls to a
 * Connect, gRPC-Web or gRPC service elsewhere ({@link forwardTo}), and
 * relays that service's server streams to NanoRPC subscribers
 * ({@link relayUpstream}).
 *
 * Protocols (`protocol`): the Connect protocol (the default) and gRPC-Web
 * go through `fetch`, over `http://` or `https://`; gRPC needs HTTP/2
 * trailers, which fetch does not expose, so it goes through `node:http2`
 * (`@connectrpc/connect-node`), which Deno runs: h2c for `http://`, h2
 * with ALPN for `https://`. Any other connect-es transport can be given
 * as `transport`.
 *
 * @module
 */

import {
  Code,
  ConnectError,
  createClient,
  type Transport,
} from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-web";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type {
  DescMethod,
  DescService,
  MessageInitShape,
} from "@bufbuild/protobuf";
import { Backoff, type BackoffOptions } from "../client/backoff.ts";
import type { Context } from "../server/context.ts";
import type {
  MethodNames,
  ServiceImpl,
  ServiceRegistration,
} from "../server/service.ts";
import { nanoRpcError } from "./status.ts";

/** Where and how to reach the upstream service. */
export interface UpstreamOptions {
  /**
   * A connect-es transport to use instead of one built from the URL (a
   * gRPC transport, interceptors, your own fetch).
   */
  transport?: Transport;
  /**
   * The wire protocol of the built transport. Default `"connect"`.
   * `"connect"` and `"grpc-web"` go through `fetch` (HTTP/1.1, or HTTP/2
   * over https); `"grpc"` needs HTTP/2 trailers, which fetch cannot read,
   * so it goes through `node:http2` (h2c for `http://`, h2 for `https://`).
   */
  protocol?: "connect" | "grpc-web" | "grpc";
  /** Send protobuf binary (`true`, the default) or JSON. */
  binary?: boolean;
  /**
   * Headers sent with every upstream call (an API key, say), or a
   * function of the NanoRPC call's context (to pass on who is calling).
   */
  headers?: HeadersInit | ((ctx: Context) => HeadersInit);
  /** Time limit of each upstream call in ms. Default: the handler's. */
  timeoutMs?: number;
}

/** Builds the transport of {@link UpstreamOptions}. */
function upstreamTransport(url: string, options: UpstreamOptions): Transport {
  if (options.transport) return options.transport;
  const common = { baseUrl: url, useBinaryFormat: options.binary ?? true };
  switch (options.protocol) {
    case "grpc":
      return createGrpcTransport({ baseUrl: url });
    case "grpc-web":
      return createGrpcWebTransport(common);
    default:
      return createConnectTransport(common);
  }
}

/**
 * An implementation of `service` whose unary methods forward each call to
 * the same method of the service at `url`, for `server.service`: the
 * NanoRPC caller gets the upstream's answer, or its error mapped by
 * {@link nanoRpcError}. Its server-streaming methods are plain topics;
 * {@link relayUpstream} feeds them, and spreading `{ method: { filter } }`
 * over the result filters them per subscriber.
 *
 * @param url The upstream's base URL, e.g. `"https://api.example"`.
 * @param service The service descriptor (the same as the upstream's).
 * @param options Transport, protocol, headers and time limit.
 * @returns The implementation.
 *
 * @example A device-facing NanoRPC server in front of a Connect service
 * ```ts ignore
 * import { Server } from "@nanorpc/nanorpc/server";
 * import { forwardTo } from "@nanorpc/nanorpc/gateway";
 * import { Room } from "@nanorpc/nanorpc/proto/chat";
 *
 * const server = new Server();
 * server.service(Room, forwardTo("https://chat.example", Room, {
 *   headers: { authorization: `Bearer ${Deno.env.get("TOKEN")}` },
 * }));
 * await server.listen({ port: 7411 });
 * ```
 */
export function forwardTo<S extends DescService>(
  url: string,
  service: S,
  options: UpstreamOptions = {},
): ServiceImpl<S> {
  const transport = upstreamTransport(url, options);
  const client = createClient(service, transport) as Record<
    string,
    (input: unknown, call: object) => Promise<unknown>
  >;
  const impl: Record<string, unknown> = {};
  for (const method of service.methods) {
    if (method.methodKind === "server_streaming") {
      impl[method.localName] = {};
      continue;
    }
    if (method.methodKind !== "unary") continue;
    const call = client[method.localName];
    impl[method.localName] = async (input: unknown, ctx: Context) => {
      try {
        return await call(input, {
          signal: ctx.signal,
          timeoutMs: options.timeoutMs,
          headers: typeof options.headers === "function"
            ? options.headers(ctx)
            : options.headers,
        });
      } catch (error) {
        throw nanoRpcError(error, url);
      }
    };
  }
  return impl as ServiceImpl<S>;
}

/** How {@link relayUpstream} relays. */
export interface RelayOptions<S extends DescService>
  extends Omit<UpstreamOptions, "headers"> {
  /** Headers sent when each stream is opened. */
  headers?: HeadersInit;
  /** The upstream's base URL (unless `transport` is given). */
  url?: string;
  /**
   * The request each server-streaming method's upstream stream is opened
   * with, by method local name. Default: the empty message.
   */
  inputs?: {
    [N in MethodNames<S, "server_streaming">]?: MessageInitShape<
      S["method"][N]["input"]
    >;
  };
  /** Delays between reopening a stream that failed or ended. */
  backoff?: BackoffOptions;
  /** Stops relaying. */
  signal?: AbortSignal;
  /** Told about each failure before the stream is reopened. */
  onError?: (error: ConnectError, method: string) => void;
}

/** A running relay: counters, and a way to stop it. */
export interface Relay extends AsyncDisposable {
  /** Messages published to the topics. */
  readonly relayed: number;
  /** Upstream streams that failed or ended and were reopened. */
  readonly reopened: number;
  /** Stops every stream; resolves when they have ended. */
  close(): Promise<void>;
}

/**
 * Opens one upstream stream per server-streaming method of the
 * registration's service and publishes every message it yields to that
 * method's topic, reopening (with backoff) a stream that fails or ends,
 * until `signal` aborts or the relay is closed. Subscribers' filters apply
 * as for any publish.
 *
 * @param registration What `server.service` returned.
 * @param options The upstream, the stream requests, backoff and stop.
 * @returns The relay.
 * @throws {TypeError} Without `url` or `transport`.
 *
 * @example
 * ```ts ignore
 * import { Server } from "@nanorpc/nanorpc/server";
 * import { forwardTo, relayUpstream } from "@nanorpc/nanorpc/gateway";
 * import { Room } from "@nanorpc/nanorpc/proto/chat";
 *
 * const server = new Server();
 * const room = server.service(Room, forwardTo("https://chat.example", Room));
 * await using relay = relayUpstream(room, { url: "https://chat.example" });
 * ```
 */
export function relayUpstream<S extends DescService>(
  registration: ServiceRegistration<S>,
  options: RelayOptions<S>,
): Relay {
  if (!options.url && !options.transport) {
    throw new TypeError("relayUpstream needs options.url or options.transport");
  }
  const url = options.url ?? "the upstream";
  const client = createClient(
    registration.service,
    upstreamTransport(url, options),
  ) as Record<
    string,
    (input: unknown, call: object) => AsyncIterable<unknown>
  >;
  const stop = new AbortController();
  const signal = options.signal
    ? AbortSignal.any([options.signal, stop.signal])
    : stop.signal;
  const counts = { relayed: 0, reopened: 0 };
  const inputs = (options.inputs ?? {}) as Record<string, unknown>;
  const streaming = registration.service.methods.filter((m) =>
    m.methodKind === "server_streaming"
  );
  const publish = registration.publish as (name: string, u: unknown) => void;
  const loops = streaming.map((method) =>
    relayOne(method, async () => {
      const stream = client[method.localName](
        inputs[method.localName] ?? {},
        { signal, headers: options.headers },
      );
      let relayed = 0;
      for await (const message of stream) {
        publish(method.localName, message);
        counts.relayed++;
        relayed++;
      }
      return relayed;
    })
  );
  async function relayOne(method: DescMethod, open: () => Promise<number>) {
    const backoff = new Backoff(options.backoff);
    while (!signal.aborted) {
      let error: ConnectError;
      try {
        // A stream that relayed something was healthy: start over; one that
        // ended empty backs off like a failure, not to hammer the upstream.
        if (await open() > 0) backoff.reset();
        error = new ConnectError(
          "The upstream ended the stream",
          Code.Unavailable,
        );
      } catch (e) {
        error = ConnectError.from(e);
      }
      if (signal.aborted) break;
      counts.reopened++;
      options.onError?.(error, method.localName);
      await sleep(backoff.next(), signal);
    }
  }
  const done = Promise.all(loops).then(() => {});
  const close = () => {
    stop.abort();
    return done;
  };
  return {
    get relayed() {
      return counts.relayed;
    },
    get reopened() {
      return counts.reopened;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
