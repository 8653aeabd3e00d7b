/**
 * The byte-stream adapter of Deno's sockets: TCP, TLS and UNIX.
 *
 * @module
 */

import type { ByteStream, PeerAddress } from "./byte_stream.ts";
import { WRITE_SOME, type WritesSome } from "./_write_some.ts";

/**
 * Adapts a Deno socket to a {@link ByteStream}. TCP sockets get
 * `TCP_NODELAY`, because frames are written corked already, and
 * `SO_KEEPALIVE` (with the system's timings), so that a peer gone without
 * a word is found out at last even where nothing is ever sent.
 *
 * @param conn An accepted or dialled socket.
 * @param transport `"tcp"`, `"tls"` or `"unix"`.
 * @returns The stream; closing it closes the socket.
 *
 * @example
 * ```ts ignore
 * import { connStream } from "@nanorpc/nanorpc/transport";
 *
 * const stream = connStream(await Deno.connect({ port: 7411 }), "tcp");
 * ```
 */
export function connStream(
  conn: Deno.Conn,
  transport: "tcp" | "tls" | "unix",
): ByteStream {
  if (transport === "tcp") {
    try {
      (conn as Deno.TcpConn).setNoDelay(true);
      (conn as Deno.TcpConn).setKeepAlive(true);
    } catch {
      // Closed already: the first read says so.
    }
  }
  return new ConnStream(conn, transport);
}

/**
 * Adapts a TLS socket a server accepted, whose peer has `ms` to complete
 * the TLS handshake (0, or 2^31 and more: no limit). Past it the stream is
 * closed and reads reject, so a peer that never sends (or never finishes)
 * its ClientHello does not keep its session. (Deno 2.9 still holds the OS
 * socket of an unfinished handshake until the peer sends or leaves.)
 *
 * @param conn The accepted socket.
 * @param ms The handshake time limit.
 * @returns The stream; closing it closes the socket.
 */
export function acceptedTlsStream(conn: Deno.TlsConn, ms: number): ByteStream {
  const stream = new ConnStream(conn, "tls");
  if (ms > 0 && ms < 2 ** 31) stream.handshakeWithin(ms);
  return stream;
}

// A class rather than an object literal of closures: a server holds one per
// connection, and the methods live once on the prototype (issue #16: heap
// per idle connection).
class ConnStream implements ByteStream, WritesSome {
  readonly transport: string;
  readonly remoteAddr: PeerAddress;
  readonly #conn: Deno.Conn;
  #closed = false;
  /** The TLS handshake reads wait for, while it is bounded and unfinished. */
  #handshake?: Promise<void>;
  #handshakeTimer?: ReturnType<typeof setTimeout>;

  constructor(conn: Deno.Conn, transport: string) {
    this.#conn = conn;
    this.transport = transport;
    this.remoteAddr = peerOf(conn.remoteAddr, transport);
  }

  /** Closes the socket unless its TLS handshake completes within `ms`. */
  handshakeWithin(ms: number): void {
    const conn = this.#conn as Deno.TlsConn;
    const late = new Promise<never>((_, reject) => {
      this.#handshakeTimer = setTimeout(() => {
        reject(new Error(`no TLS handshake within ${ms} ms`));
        this.close();
      }, ms);
    });
    const handshake = Promise.race([conn.handshake(), late]).then(() => {
      this.#handshake = undefined;
    }).finally(() => clearTimeout(this.#handshakeTimer));
    handshake.catch(() => {}); // Reads report it; none may come.
    this.#handshake = handshake;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    const handshake = this.#handshake;
    if (handshake) return handshake.then(() => this.#conn.read(buffer));
    return this.#conn.read(buffer);
  }

  // Not an async function: most writes are whole at the first call, and
  // this saves them a promise and a turn of the microtask queue.
  write(data: Uint8Array): Promise<void> {
    const conn = this.#conn;
    try {
      return conn.write(data).then((n) =>
        n < data.length ? writeRest(conn, data, n) : undefined
      );
    } catch (err) {
      return Promise.reject(err);
    }
  }

  // The outbox's fast path (transport/_write_some.ts): it writes the rest
  // of a short write itself.
  [WRITE_SOME](data: Uint8Array): Promise<number> {
    try {
      return this.#conn.write(data);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#handshakeTimer);
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer or a failed write.
    }
  }
}

async function writeRest(
  conn: Deno.Conn,
  data: Uint8Array,
  at: number,
): Promise<void> {
  while (at < data.length) at += await conn.write(data.subarray(at));
}

/** A Deno address as a {@link PeerAddress}. */
export function peerOf(addr: Deno.Addr, transport: string): PeerAddress {
  if ("hostname" in addr) {
    return { transport, hostname: addr.hostname, port: addr.port };
  }
  return {
    transport,
    path: "path" in addr ? addr.path || undefined : undefined,
  };
}
