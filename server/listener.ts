/**
 * Opening the listeners a server accepts sessions on: TCP, TLS and UNIX
 * sockets, and HTTP (WebSockets, through server/http_listener.ts).
 *
 * @module
 */

import type { ByteStream } from "../transport/byte_stream.ts";
import { acceptedTlsStream, connStream } from "../transport/conn.ts";
import {
  DEFAULT_HTTP_PORT,
  type HttpListenerHost,
  type HttpListenOptions,
  openHttpListener,
} from "./http_listener.ts";

/** Listen on TCP. */
export interface TcpListenOptions {
  /** Interface to bind; default `"127.0.0.1"`. */
  hostname?: string;
  /** Port to bind; `0` picks a free one (see `Listener.addr`). Default 7411. */
  port?: number;
  /** Let several processes bind the same port (Linux `SO_REUSEPORT`). */
  reusePort?: boolean;
}

/** Listen on TLS over TCP. */
export interface TlsListenOptions extends TcpListenOptions {
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
  /**
   * How long, in ms, a peer has to complete the TLS handshake before its
   * session is closed (0 or Infinity: no limit). Default 10,000.
   */
  handshakeTimeout?: number;
}

/** Listen on a UNIX domain socket. */
export interface UnixListenOptions {
  /** Socket file path. A stale socket file there is replaced. */
  path: string;
  /** File mode to give the socket, e.g. `0o600`. */
  mode?: number;
}

/** Where and how to listen. */
export type ListenOptions =
  | TcpListenOptions
  | TlsListenOptions
  | UnixListenOptions
  | HttpListenOptions;

/** A bound listener of a server. */
export interface Listener {
  /** The bound address (with the real port when 0 was asked for). */
  readonly addr: Deno.Addr;
  /**
   * The address as a URL: `tcp://host:port`, `tls://...`, `unix:///path`,
   * `http://host:port` (its WebSocket endpoint is `ws://host:port/nanorpc`).
   */
  readonly url: string;
  /** Which kind of socket it is. */
  readonly transport: "tcp" | "tls" | "unix" | "http" | "https";
  /**
   * Stops accepting here and closes the socket (a UNIX socket's file is
   * removed); the sessions it accepted go on until they end or the server
   * shuts down. Resolves once no more peers will be accepted here. An
   * HTTP listener's WebSocket endpoint answers 503 from then on; its other
   * routes go on, and its port is freed at shutdown (closing its server
   * earlier would cut its WebSocket sessions).
   */
  close(): Promise<void>;
}

/** A listener plus what the server needs to run and stop it. */
export interface OpenListener extends Omit<Listener, "close"> {
  /** Waits for the next peer. */
  accept(): Promise<ByteStream>;
  /** Closes the listener and removes its socket file, if any. */
  close(): Promise<void>;
  /**
   * Frees what `close` had to keep for the sessions still open (the HTTP
   * server, whose shutdown cuts its WebSockets); called once they ended.
   */
  release?(): Promise<void>;
}

/** Default TCP port of `server.listen()` and `deno task server`. */
export const DEFAULT_PORT = 7411;

/** `handshakeTimeout` of a TLS listener when not given, in ms. */
const DEFAULT_TLS_HANDSHAKE_TIMEOUT = 10_000;

/**
 * Binds a listener described by `options`.
 *
 * @param options Where and how to listen.
 * @param server What an HTTP listener takes from its server.
 * @throws {Error} when the address is in use, or a UNIX socket path holds
 * something other than a socket.
 */
export async function openListener(
  options: ListenOptions,
  server: HttpListenerHost,
): Promise<OpenListener> {
  try {
    return await bind(options, server);
  } catch (err) {
    // The OS's errors name no address ("Address already in use (os
    // error 98)"); a server with several listeners should say which.
    // Options refused before any bind (TypeError, RangeError) say theirs.
    if (
      err instanceof Error && !(err instanceof TypeError) &&
      !(err instanceof RangeError) && !err.message.startsWith("Cannot listen")
    ) {
      err.message = `Cannot listen on ${where(options)}: ${err.message}`;
    }
    throw err;
  }
}

/** The address `options` ask for, as a listener's URL would give it. */
function where(options: ListenOptions): string {
  if ("path" in options) return `unix://${options.path}`;
  const http = "http" in options ? options.http : undefined;
  const { hostname = "127.0.0.1", port } = http ?? options as TcpListenOptions;
  const scheme = http
    ? (http.cert === undefined ? "http" : "https")
    : ("cert" in options || "key" in options ? "tls" : "tcp");
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return `${scheme}://${host}:${
    port ?? (http ? DEFAULT_HTTP_PORT : DEFAULT_PORT)
  }`;
}

async function bind(
  options: ListenOptions,
  server: HttpListenerHost,
): Promise<OpenListener> {
  if ("path" in options) return await openUnix(options);
  if ("http" in options) return await openHttpListener(options.http, server);
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? DEFAULT_PORT;
  const tls = "cert" in options || "key" in options;
  if (tls && (options.cert === undefined || options.key === undefined)) {
    throw new TypeError(
      `Give both cert and key to listen with TLS on ${where(options)}`,
    );
  }
  const handshakeTimeout = tls
    ? options.handshakeTimeout ?? DEFAULT_TLS_HANDSHAKE_TIMEOUT
    : 0;
  const inner = tls
    ? Deno.listenTls(
      {
        hostname,
        port,
        cert: options.cert,
        key: options.key,
        reusePort: options.reusePort,
      } as Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem,
    )
    : Deno.listen({ hostname, port, reusePort: options.reusePort });
  const addr = inner.addr as Deno.NetAddr;
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  const transport = tls ? "tls" : "tcp";
  return {
    addr,
    url: `${transport}://${host}:${addr.port}`,
    transport,
    accept: async () => {
      const conn = await inner.accept();
      return tls
        ? acceptedTlsStream(conn as Deno.TlsConn, handshakeTimeout)
        : connStream(conn, "tcp");
    },
    close() {
      closeQuietly(inner);
      return Promise.resolve();
    },
  };
}

async function openUnix(options: UnixListenOptions): Promise<OpenListener> {
  const path = options.path;
  if (typeof path !== "string" || path === "") {
    throw new TypeError("A UNIX listener needs a socket path");
  }
  try {
    const info = await Deno.lstat(path);
    if (!info.isSocket) {
      throw new Error(
        `Cannot listen on ${path}: it exists and is not a socket; remove it or pick another path`,
      );
    }
    const inUse = await inUseBy(path);
    if (inUse) {
      throw new Deno.errors.AddrInUse(
        `Cannot listen on ${path}: ${inUse}; stop it or pick another path`,
      );
    }
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  let inner: Deno.Listener;
  try {
    inner = listenWithMode(path, options.mode);
  } catch (err) {
    // Deno's own (a path over SUN_LEN) name no path.
    if (!(err instanceof TypeError)) throw err;
    throw new TypeError(`Cannot listen on unix://${path}: ${err.message}`);
  }
  if (options.mode !== undefined) await Deno.chmod(path, options.mode);
  return {
    addr: inner.addr,
    url: `unix://${path}`,
    transport: "unix",
    accept: async () => connStream(await inner.accept(), "unix"),
    async close() {
      closeQuietly(inner);
      // Deno unlinks the path when a UNIX listener closes; this covers the
      // rest, but never removes the file of a server that may still answer.
      const inUse = await inUseBy(path).catch(() => "unknown");
      if (!inUse) await Deno.remove(path).catch(() => {});
    },
  };
}

/** Binds with a umask that gives the socket `mode` from the first moment. */
function listenWithMode(path: string, mode?: number): Deno.Listener {
  if (mode === undefined) return Deno.listen({ transport: "unix", path });
  const previous = Deno.umask(0o777 & ~mode);
  try {
    return Deno.listen({ transport: "unix", path });
  } finally {
    Deno.umask(previous);
  }
}

/**
 * Why the socket at `path` is in use, or undefined when it is stale. Only
 * a refused connection (or no file) means no server is there: one whose
 * backlog is full makes a connect fail too (EAGAIN), and one we may not
 * reach (EACCES) is still alive.
 */
async function inUseBy(path: string): Promise<string | undefined> {
  try {
    (await Deno.connect({ transport: "unix", path })).close();
    return "another server is listening there";
  } catch (err) {
    if (
      err instanceof Deno.errors.ConnectionRefused ||
      err instanceof Deno.errors.NotFound
    ) return undefined;
    if (err instanceof Deno.errors.NotCapable) throw err;
    const why = err instanceof Error ? err.message : String(err);
    return `another server may be listening there (connecting failed: ${why})`;
  }
}

function closeQuietly(listener: Deno.Listener): void {
  try {
    listener.close();
  } catch {
    // Already closed.
  }
}
