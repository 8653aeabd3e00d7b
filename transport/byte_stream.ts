/**
 * The byte-stream seam: everything above it (sessions, the client's
 * connection) reads and writes NanoRPC frames through this one small
 * interface, and every transport (TCP, TLS, UNIX, WebSocket, serial lines,
 * stream pairs) is one adapter of it.
 *
 * @module
 */

/**
 * Where a peer is, as far as its transport knows it. `transport` names the
 * adapter (`"tcp"`, `"tls"`, `"unix"`, `"ws"`, `"wss"`, `"serial"`,
 * `"stream"`); `hostname` and `port` are set for network peers, `path` for
 * UNIX sockets and serial devices.
 */
export interface PeerAddress {
  /** The adapter's name, e.g. `"tcp"` or `"ws"`. */
  readonly transport: string;
  /** Host name or IP literal of a network peer. */
  readonly hostname?: string;
  /** Port of a network peer. */
  readonly port?: number;
  /** Socket or device path. */
  readonly path?: string;
}

/**
 * A reliable, ordered, bidirectional byte stream to one peer.
 *
 * Slowness is learnt through {@link ByteStream.write}: its promise settles
 * only when the stream can take more, so a peer that stops reading makes
 * writes pend, and the caller (which bounds what it queues) stops queueing.
 *
 * @example Adapting an in-memory pipe
 * ```ts
 * import type { ByteStream } from "@nanorpc/nanorpc/transport";
 *
 * const chunks: Uint8Array[] = [];
 * const sink: ByteStream = {
 *   transport: "stream",
 *   remoteAddr: { transport: "stream" },
 *   read: () => Promise.resolve(null),
 *   write: (data) => {
 *     chunks.push(data.slice());
 *     return Promise.resolve();
 *   },
 *   close: () => {},
 * };
 * await sink.write(new Uint8Array([1, 2, 3]));
 * ```
 */
export interface ByteStream {
  /** The adapter's name, e.g. `"tcp"`; the same as `remoteAddr.transport`. */
  readonly transport: string;
  /** The peer's address. */
  readonly remoteAddr: PeerAddress;
  /**
   * True once the peer ended the stream on purpose and said so (a WebSocket
   * closed with 1000 or 1001), rather than the connection being lost.
   * Streams that cannot tell the two apart leave it undefined (a TCP FIN
   * looks the same whether the peer closed or its process died).
   */
  readonly peerClosed?: boolean;
  /**
   * Reads into `buffer`.
   *
   * @returns The number of bytes read (at least 1), or `null` when the peer
   * has ended the stream. It rejects when the stream failed or was closed;
   * it should not throw synchronously (if it does, sessions and the client
   * treat the throw as that rejection).
   */
  read(buffer: Uint8Array): Promise<number | null>;
  /**
   * Writes all of `data`. The caller must not change `data` until the
   * promise settles.
   *
   * @returns A promise that settles when the stream can take more data,
   * and rejects when the stream failed or was closed. Report failures by
   * rejecting, not by throwing synchronously (a synchronous throw is
   * treated as that rejection).
   */
  write(data: Uint8Array): Promise<void>;
  /**
   * Closes the stream; pending reads end and later writes fail. Calling it
   * again does nothing. It should not throw: callers do not wait for it,
   * and an error it throws is only logged.
   *
   * @param reason Why, for transports that can tell the peer (WebSocket).
   */
  close(reason?: string): void;
}

/**
 * Turns a peer address into text for logs and URLs:
 * `tcp://127.0.0.1:7411`, `unix:///tmp/s.sock`, `serial:///dev/ttyUSB0`.
 *
 * @param addr The address.
 * @returns The address as text.
 *
 * @example
 * ```ts
 * import { formatPeer } from "@nanorpc/nanorpc/transport";
 *
 * formatPeer({ transport: "tcp", hostname: "::1", port: 7411 }); // "tcp://[::1]:7411"
 * ```
 */
export function formatPeer(addr: PeerAddress): string {
  if (addr.hostname !== undefined) {
    const host = addr.hostname.includes(":")
      ? `[${addr.hostname}]`
      : addr.hostname;
    return `${addr.transport}://${host}${
      addr.port === undefined ? "" : `:${addr.port}`
    }`;
  }
  if (addr.path) return `${addr.transport}://${addr.path}`;
  return `${addr.transport} peer`;
}
