/**
 * The byte-stream adapter of WebSockets, for both ends: a server socket
 * from `Deno.upgradeWebSocket` and a client socket from `new WebSocket(url)`,
 * in Deno and in browsers (this file uses Web APIs only).
 *
 * NanoRPC frames travel unchanged in binary messages, and message
 * boundaries mean nothing: one message may hold several frames or part of
 * one, so the adapter just concatenates the messages' bytes.
 *
 * @module
 */

import type { ByteStream, PeerAddress } from "./byte_stream.ts";
import { ChunkQueue } from "./_chunk_queue.ts";

/** Close code of a text message: the endpoint takes binary data only. */
export const CLOSE_UNSUPPORTED_DATA = 1003;
/** Close code of received bytes beyond the inbound bound. */
export const CLOSE_TOO_BIG = 1009;

/** What the adapter counted; share one object between many sockets. */
export interface WebSocketStats {
  /** Sockets closed with 1009 because their unread bytes passed the bound. */
  inboundOverflows: number;
  /** Sockets closed with 1003 because a text message arrived. */
  textMessages: number;
}

/** How {@link websocketStream} adapts a socket. */
export interface WebSocketStreamOptions {
  /** `"ws"` or `"wss"`; by default taken from the socket's URL, else `"ws"`. */
  transport?: "ws" | "wss";
  /**
   * The peer's host and port. On the server pass `Deno.serve`'s
   * `info.remoteAddr`, read before `Deno.upgradeWebSocket` (after it, Deno
   * throws "Request closed"). A client takes them from the URL.
   */
  remoteAddr?: { hostname?: string; port?: number };
  /**
   * Bytes received but not yet read that the adapter keeps at most
   * (WebSockets push messages with no backpressure). Beyond it the socket
   * is closed with 1009 (4009 from a client, which may not send 1009) and
   * counted (a peer still sending may see an abnormal closure instead).
   * Each message counts 256 bytes more than its data. Default 4 MiB;
   * twice the session's `maxMessageSize`, and at least the peer's
   * `maxSendSize` more than it, is a good value. Deno buffers each whole
   * message before the adapter sees it, so one message can pass this bound
   * by its size.
   */
  maxBufferedIn?: number;
  /** `write` settles once `bufferedAmount` is at most this; default 256 KiB. */
  writeLowWater?: number;
  /**
   * Largest binary message `write` sends: longer writes go out as several
   * messages (their boundaries mean nothing), so a large corked batch never
   * trips the peer's own `maxBufferedIn` by being one message. Default
   * 64 KiB.
   */
  maxSendSize?: number;
  /**
   * Longest pause, in ms, between two looks at `bufferedAmount` while a
   * write waits (there is no drain event); polling starts at 1 ms and
   * doubles up to it, and a write that has waited a second backs off to one
   * look a second. Default 20, clamped to 1..1000.
   */
  drainPollMs?: number;
  /** Where to count; a fresh object when omitted. */
  stats?: WebSocketStats;
}

/** A {@link ByteStream} over a WebSocket, with what it knows of the socket. */
export interface WebSocketByteStream extends ByteStream {
  /** The adapted socket. */
  readonly socket: WebSocket;
  /** The counters this stream adds to. */
  readonly stats: WebSocketStats;
  /** Bytes received and not read yet. */
  readonly bufferedIn: number;
}

const DEFAULT_MAX_BUFFERED_IN = 4 << 20;
const DEFAULT_LOW_WATER = 256 << 10;
/** Largest message a write is cut into (the client's window counts them). */
export const DEFAULT_MAX_SEND = 64 << 10;
/**
 * Counted per buffered message against `maxBufferedIn`, beyond its bytes
 * (the client's write window counts it too: client/_write_window.ts).
 */
export const MESSAGE_COST = 256;
/** A write waiting longer than this polls at most once a second. */
const LONG_WAIT_MS = 1000;
const LONG_POLL_MS = 1000;

/**
 * Adapts an open or opening WebSocket to a {@link ByteStream}. It sets
 * `binaryType` to `"arraybuffer"` and listens from now on, so call it before
 * the first message can arrive (right after `new WebSocket` or
 * `Deno.upgradeWebSocket`). Writes wait for the socket to open.
 *
 * - `read` hands out received bytes in order; it returns `null` once the peer
 *   closed normally (1000, 1001 or no code) and everything was read, and
 *   throws for any other close code, a text message (closed with 1003) or an
 *   overflow (closed with 1009). `peerClosed` is true after a 1000 or 1001:
 *   the peer left on purpose (a server ends a resumable session then).
 * - `write` sends binary messages of at most `maxSendSize` bytes and
 *   settles once `bufferedAmount` is at most `writeLowWater`; it rejects
 *   when the socket closes first.
 * - `close(reason)` sends a normal close (1000) with the reason, cut to the
 *   123 bytes a close frame can carry.
 *
 * @param socket The socket.
 * @param options Bounds, counters and the peer's address.
 * @returns The stream.
 *
 * @example A server endpoint in `Deno.serve`
 * ```ts ignore
 * import { websocketStream } from "@nanorpc/nanorpc/transport";
 *
 * Deno.serve((req, info) => {
 *   const remoteAddr = info.remoteAddr;
 *   const { socket, response } = Deno.upgradeWebSocket(req);
 *   const stream = websocketStream(socket, { remoteAddr });
 *   // hand `stream` to a session
 *   return response;
 * });
 * ```
 */
export function websocketStream(
  socket: WebSocket,
  options: WebSocketStreamOptions = {},
): WebSocketByteStream {
  return new WebSocketAdapter(socket, options);
}

class WebSocketAdapter implements WebSocketByteStream {
  readonly socket: WebSocket;
  readonly stats: WebSocketStats;
  readonly transport: "ws" | "wss";
  readonly remoteAddr: PeerAddress;
  #maxIn: number;
  #lowWater: number;
  #maxSend: number;
  #pollMax: number;
  /** Messages received and not read; each costs MESSAGE_COST too. */
  #queue = new ChunkQueue(MESSAGE_COST);
  #reader?: {
    buffer: Uint8Array;
    resolve: (n: number | null) => void;
    reject: (error: Error) => void;
  };
  #failure?: Error;
  #peerClosed = false;
  #ended = false;
  #closed = false;

  constructor(socket: WebSocket, options: WebSocketStreamOptions) {
    this.socket = socket;
    this.stats = options.stats ?? { inboundOverflows: 0, textMessages: 0 };
    this.#maxIn = positive(options.maxBufferedIn, DEFAULT_MAX_BUFFERED_IN);
    this.#lowWater = Math.max(0, options.writeLowWater ?? DEFAULT_LOW_WATER);
    this.#maxSend = positive(options.maxSendSize, DEFAULT_MAX_SEND);
    this.#pollMax = Math.min(1000, Math.max(1, options.drainPollMs ?? 20));
    const url = parseUrl(socket.url);
    this.transport = options.transport ??
      (url?.protocol === "wss:" || url?.protocol === "https:" ? "wss" : "ws");
    this.remoteAddr = peerAddress(this.transport, options.remoteAddr, url);
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (event) => this.#onMessage(event));
    socket.addEventListener("close", (event) => this.#onClose(event));
  }

  get bufferedIn(): number {
    return this.#queue.bytes;
  }

  get peerClosed(): boolean {
    return this.#peerClosed;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#queue.bytes > 0) {
      return Promise.resolve(this.#queue.take(buffer));
    }
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#ended) return Promise.resolve(null);
    if (this.#closed) {
      return Promise.reject(new Error("The WebSocket stream is closed"));
    }
    if (this.#reader) {
      return Promise.reject(new Error("Only one read may be pending at once"));
    }
    return new Promise((resolve, reject) =>
      this.#reader = { buffer, resolve, reject }
    );
  }

  async write(data: Uint8Array): Promise<void> {
    const socket = this.socket;
    if (socket.readyState === WebSocket.CONNECTING) await this.#opened();
    if (this.#ended || this.#closed || socket.readyState !== WebSocket.OPEN) {
      throw this.#writeError();
    }
    if (data.length <= this.#maxSend) socket.send(data);
    else {
      for (let at = 0; at < data.length; at += this.#maxSend) {
        socket.send(data.subarray(at, at + this.#maxSend));
      }
    }
    // No drain event exists: look at bufferedAmount after pauses that double
    // up to the poll bound, and after a second of waiting up to a second, so
    // a peer that stopped reading costs one timer a second. Nothing but the
    // timer is attached per pause, so a slow write leaves nothing behind.
    let waited = 0;
    for (let delay = 1; socket.bufferedAmount > this.#lowWater;) {
      await sleep(delay);
      if (this.#ended || this.#closed) throw this.#writeError();
      waited += delay;
      const most = waited < LONG_WAIT_MS ? this.#pollMax : LONG_POLL_MS;
      delay = Math.min(delay * 2, Math.max(most, this.#pollMax));
    }
  }

  /** Settles when the socket opens or closes, leaving no listener behind. */
  #opened(): Promise<void> {
    const socket = this.socket;
    return new Promise((resolve) => {
      const done = () => {
        socket.removeEventListener("open", done);
        socket.removeEventListener("close", done);
        resolve();
      };
      socket.addEventListener("open", done);
      socket.addEventListener("close", done);
    });
  }

  close(reason = ""): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#shut(1000, reason);
    this.#queue.clear();
    this.#wake();
  }

  #onMessage(event: MessageEvent): void {
    if (this.#closed || this.#failure) return;
    const data = event.data;
    if (typeof data === "string") {
      this.stats.textMessages++;
      this.#fail(
        CLOSE_UNSUPPORTED_DATA,
        "NanoRPC takes binary WebSocket messages only; a text message arrived",
      );
      return;
    }
    if (!(data instanceof ArrayBuffer) || data.byteLength === 0) return;
    const queue = this.#queue;
    if (queue.charged + queue.cost + data.byteLength > this.#maxIn) {
      this.stats.inboundOverflows++;
      this.#fail(
        CLOSE_TOO_BIG,
        `More than ${this.#maxIn} bytes received and not yet read; send less at once`,
      );
      return;
    }
    queue.push(new Uint8Array(data));
    const reader = this.#reader;
    if (reader) {
      this.#reader = undefined;
      reader.resolve(queue.take(reader.buffer));
    }
  }

  #onClose(event: CloseEvent): void {
    this.#ended = true;
    if (this.#closed || this.#failure) return;
    const code = event.code;
    this.#peerClosed = code === 1000 || code === 1001;
    if (code !== 1000 && code !== 1001 && code !== 1005) {
      const why = event.reason ? `: ${event.reason}` : "";
      this.#failure = new Error(
        `The WebSocket closed with code ${code}${why}`,
      );
    }
    if (this.#queue.bytes === 0) this.#wake();
  }

  /** Closes with `code`, and reads from now on throw `reason`. */
  #fail(code: number, reason: string): void {
    const used = this.#shut(code, reason);
    this.#failure = new Error(`${reason} (closed with ${used})`);
    this.#queue.clear();
    this.#wake();
  }

  /** Ends a pending read: with the failure if there is one, else `null`. */
  #wake(): void {
    const reader = this.#reader;
    if (!reader) return;
    this.#reader = undefined;
    if (this.#failure && !this.#closed) reader.reject(this.#failure);
    else reader.resolve(null);
  }

  /** Closes with `code`; returns the code used. */
  #shut(code: number, reason: string): number {
    if (this.socket.readyState === WebSocket.CONNECTING) {
      // Deno's server socket forgets a close that comes before the upgrade
      // is answered and opens all the same, sending nothing: close it again
      // then. (A client socket closed while connecting never opens.)
      this.socket.addEventListener("open", () => this.#shut(code, reason), {
        once: true,
      });
    }
    try {
      this.socket.close(code, truncateReason(reason));
      return code;
    } catch (error) {
      // A client may close only with 1000 or 3000-4999: 1003 and 1009
      // become 4003 and 4009 there, still a failure to the peer.
      if (!(error instanceof DOMException) || code >= 3000) return code;
      try {
        this.socket.close(code + 3000, truncateReason(reason));
      } catch {
        // Closing already, or never opened.
      }
      return code + 3000;
    }
  }

  #writeError(): Error {
    return this.#failure ??
      new Error(
        "The WebSocket is closed; the peer has gone or the stream was closed",
      );
  }
}

/** Cuts `reason` to at most 123 UTF-8 bytes without splitting a character. */
export function truncateReason(reason: string): string {
  const encoder = new TextEncoder();
  if (encoder.encode(reason).length <= 123) return reason;
  let cut = reason.slice(0, 123);
  while (encoder.encode(cut).length > 120) cut = cut.slice(0, -1);
  return cut + "\u2026";
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && value > 0 ? value : fallback;
}

function parseUrl(url: string): URL | undefined {
  try {
    return url ? new URL(url) : undefined;
  } catch {
    return undefined;
  }
}

function peerAddress(
  transport: "ws" | "wss",
  given: { hostname?: string; port?: number } | undefined,
  url: URL | undefined,
): PeerAddress {
  if (given?.hostname !== undefined) {
    return { transport, hostname: given.hostname, port: given.port };
  }
  if (!url) return { transport };
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = url.port ? Number(url.port) : transport === "wss" ? 443 : 80;
  return { transport, hostname, port };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
