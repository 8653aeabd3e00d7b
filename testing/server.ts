/**
 * Test kit: the one way to start a real server for a test, on TCP port 0
 * and/or a UNIX socket in a temporary folder, through the public `Server`
 * API. It hands out raw clients and real clients that it closes on
 * dispose, and can stop and restart the server on the same addresses.
 *
 * @module
 */

import { type Client, type ClientOptions, connect } from "../client/mod.ts";
import { Server, type ServerOptions } from "../server/mod.ts";
import { silentLogger } from "./logger.ts";
import { RawClient } from "./raw_client.ts";

/** A socket kind {@link startServer} can listen on. */
export type TestTransport = "tcp" | "unix";

/** Registers a test server's routes and topics; may return a promise. */
export type ServerSetup = (server: Server) => unknown;

/** How {@link startServer} makes and binds the server. */
export interface StartServerOptions extends ServerOptions {
  /**
   * Where to listen, in order; the first is {@link TestServer.url}.
   * `["tcp"]` by default.
   */
  transports?: readonly TestTransport[];
  /** A certificate and key: the TCP listener then speaks TLS. */
  tls?: { cert: string; key: string };
}

/** A listening server and what a test opened to it. */
export interface TestServer extends AsyncDisposable {
  /** The running server (a new one after {@link restart}). */
  readonly server: Server;
  /** URL of the first listener, e.g. `tcp://127.0.0.1:40123`. */
  readonly url: string;
  /** URLs of every listener, in the order of `transports`. */
  readonly urls: readonly string[];
  /** The TCP (or TLS) address, if listening on TCP. */
  readonly tcp: Deno.NetAddr | undefined;
  /** The UNIX socket address, if listening on one. */
  readonly unix: Deno.UnixAddr | undefined;
  /**
   * Opens a raw client, closed on dispose.
   *
   * @param transport Which listener; the first by default. Not over TLS.
   */
  connectRaw(transport?: TestTransport): Promise<RawClient>;
  /**
   * Connects a `Client` to {@link url} (keepalive off unless given),
   * closed on dispose.
   */
  client(options?: ClientOptions): Promise<Client>;
  /** Shuts the server down (gracefully); doing it twice is fine. */
  stop(): Promise<void>;
  /** Stops the server, then starts a fresh one on the same addresses. */
  restart(): Promise<void>;
}

/**
 * Starts a server for a test. `setup` registers its routes; give a
 * `Server` instead to listen with one already made (then only
 * `transports` and `tls` apply, and it cannot be restarted). The logger
 * is silent unless `logger` or `logLevel` is given.
 *
 * Disposing closes the clients it handed out, shuts the server down and
 * removes the UNIX socket's folder.
 *
 * @param setup Registers routes on a fresh server, or the server to use.
 * @param options Server options, plus where to listen.
 * @returns The running server and its addresses.
 * @throws {TypeError} When both a `Server` and server options are given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startServer } from "./server.ts";
 *
 * await using t = await startServer((server) => {
 *   server.handle("/echo", (ctx) => ctx.data);
 * }, { transports: ["tcp", "unix"] });
 * const client = await t.client();
 * const { data } = await client.request("/echo", new Uint8Array([7]));
 * assert.deepEqual(data, new Uint8Array([7]));
 * ```
 */
export async function startServer(
  setup?: ServerSetup | Server,
  options: StartServerOptions = {},
): Promise<TestServer> {
  const { transports = ["tcp"], tls, ...serverOptions } = options;
  const given = setup instanceof Server ? setup : undefined;
  if (given && Object.keys(serverOptions).length > 0) {
    throw new TypeError(
      "startServer takes either a Server or server options, not both: make the Server with those options",
    );
  }
  const make = async (): Promise<Server> => {
    if (given) return given;
    const quiet = serverOptions.logger || serverOptions.logLevel
      ? {}
      : { logger: silentLogger };
    const server = new Server({ ...quiet, ...serverOptions });
    await (setup as ServerSetup | undefined)?.(server);
    return server;
  };
  const dir = transports.includes("unix")
    ? await Deno.makeTempDir({ prefix: "nanorpc-test-" })
    : undefined;
  const clients: Client[] = [];
  const raws: RawClient[] = [];
  let server = await make();
  let stopped: Promise<void> | undefined;
  let urls: string[] = [];
  let tcp: Deno.NetAddr | undefined;
  let unix: Deno.UnixAddr | undefined;

  const listen = async () => {
    urls = [];
    for (const transport of transports) {
      const listener = transport === "unix"
        ? await server.listen({ path: `${dir}/nanorpc.sock` })
        : await server.listen({
          hostname: "127.0.0.1",
          port: tcp?.port ?? 0,
          ...tls,
        });
      if (listener.addr.transport === "unix") unix = listener.addr;
      else tcp = listener.addr as Deno.NetAddr;
      urls.push(listener.url);
    }
  };
  const stop = () => stopped ??= server.shutdown();

  try {
    await listen();
  } catch (error) {
    await stop();
    if (dir) await Deno.remove(dir, { recursive: true });
    throw error;
  }

  return {
    get server() {
      return server;
    },
    get url() {
      return urls[0];
    },
    get urls() {
      return urls;
    },
    get tcp() {
      return tcp;
    },
    get unix() {
      return unix;
    },
    async connectRaw(transport = transports[0]) {
      const addr = transport === "unix" ? unix : tcp;
      if (!addr) {
        throw new Error(
          `The test server does not listen on ${transport}; add it to transports`,
        );
      }
      const raw = await RawClient.connect(addr);
      raws.push(raw);
      return raw;
    },
    async client(clientOptions: ClientOptions = {}) {
      const client = await connect(urls[0], {
        keepalive: false,
        ...clientOptions,
      });
      clients.push(client);
      return client;
    },
    stop,
    async restart() {
      if (given) {
        throw new Error(
          "A test server started with a ready-made Server cannot restart; pass a setup function instead",
        );
      }
      await stop();
      server = await make();
      stopped = undefined;
      await listen();
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(clients.map((c) => c.close()));
      for (const raw of raws) raw.close();
      await stop();
      if (dir) await Deno.remove(dir, { recursive: true });
    },
  };
}
