/**
 * The byte-stream adapter of `node:net` sockets: Deno's other TCP path,
 * whose reads arrive through callbacks instead of one `Deno.Conn.read`
 * promise per read. A server serving them peaks lower under load (see the
 * README's Performance section) at some CPU per request.
 *
 * @module
 */

import type { Socket } from "node:net";
import type { ByteStream, PeerAddress } from "./byte_stream.ts";
import { ChunkQueue } from "./_chunk_queue.ts";

/** Options of {@link nodeSocketStream}. */
export interface NodeSocketStreamOptions {
  /**
   * Bound of the stream's read queue: past it the socket stops reading
   * until half of it is read. Each queued chunk counts for its bytes plus
   * 512, so a peer sending tiny segments cannot queue a chunk per byte.
   * Default 256 KiB.
   */
  maxQueued?: number;
  /** `"unix"` for a UNIX socket (no address, no no-delay). Default `"tcp"`. */
  transport?: "tcp" | "unix";
}

/** What a pending {@link ByteStream.read} waits with. */
interface Waiter {
  buffer: Uint8Array;
  resolve: (n: number | null) => void;
  reject: (error: Error) => void;
}

/**
 * Adapts a `node:net` socket (TCP or UNIX, accepted by `net.createServer`
 * or dialled by `net.connect`) to a {@link ByteStream}. TCP sockets get
 * no-delay, because frames are written corked already. Received bytes wait
 * in a queue bounded by `maxQueued`, past which the socket is paused; a
 * write settles once the socket has handed its bytes to the kernel. As
 * node sockets are by default, the stream is not half-open: once the peer
 * ends, writes are refused.
 *
 * @param socket The socket; the stream owns it from now on.
 * @param options The read queue's bound.
 * @returns The stream; closing it destroys the socket.
 *
 * @example Serve a server's sessions over node:net
 * ```ts ignore
 * import { createServer } from "node:net";
 * import { Server } from "@nanorpc/nanorpc/server";
 * import { nodeSocketStream } from "@nanorpc/nanorpc/transport";
 *
 * const server = new Server();
 * server.handle("/echo", (ctx) => ctx.data);
 * const net = createServer((socket) => {
 *   server.serve(nodeSocketStream(socket)).catch(() => {});
 * });
 * net.listen(7411, "127.0.0.1");
 * ```
 */
export function nodeSocketStream(
  socket: Socket,
  options: NodeSocketStreamOptions = {},
): ByteStream {
  const maxQueued = options.maxQueued ?? 256 * 1024;
  if (!(maxQueued >= 1) || !Number.isInteger(maxQueued)) {
    throw new RangeError(
      `nodeSocketStream: maxQueued must be a positive whole number of bytes, not ${maxQueued}`,
    );
  }
  return new NodeSocketStream(socket, maxQueued, options.transport ?? "tcp");
}

/**
 * What each queued chunk counts for against `maxQueued` beyond its bytes: a
 * peer sending tiny segments fills the bound with chunks, not bytes.
 */
const CHUNK_COST = 512;

class NodeSocketStream implements ByteStream {
  readonly transport: string;
  readonly #socket: Socket;
  readonly #maxQueued: number;
  #remoteAddr: PeerAddress | undefined;
  /** Received chunks not read yet. */
  #queue = new ChunkQueue(CHUNK_COST);
  #paused = false;
  #ended = false;
  #failure: Error | undefined;
  #closed = false;
  #waiter: Waiter | undefined;

  constructor(socket: Socket, maxQueued: number, transport: "tcp" | "unix") {
    this.#socket = socket;
    this.#maxQueued = maxQueued;
    this.transport = transport;
    if (transport === "tcp") socket.setNoDelay(true);
    socket.on("data", (chunk: Uint8Array) => this.#received(chunk));
    socket.on("end", () => this.#finish(undefined));
    socket.on("close", () => this.#finish(undefined));
    socket.on("error", (error: Error) => this.#finish(error));
  }

  /** Read when first asked for: a dialled socket knows it once connected. */
  get remoteAddr(): PeerAddress {
    if (this.#remoteAddr) return this.#remoteAddr;
    const socket = this.#socket;
    if (this.transport === "unix") {
      return this.#remoteAddr = { transport: "unix" };
    }
    const hostname = socket.remoteAddress;
    const addr: PeerAddress = {
      transport: "tcp",
      // An IPv4 peer of a dual-stack listener, as Deno.Conn shows it.
      hostname: hostname?.startsWith("::ffff:") && hostname.includes(".")
        ? hostname.slice(7)
        : hostname,
      port: socket.remotePort,
    };
    if (hostname !== undefined) this.#remoteAddr = addr;
    return addr;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (buffer.length === 0) {
      return Promise.reject(
        new RangeError("read into an empty buffer: pass at least 1 byte"),
      );
    }
    if (this.#closed) return Promise.reject(this.#failure);
    if (this.#queue.bytes > 0) return Promise.resolve(this.#take(buffer));
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#ended) return Promise.resolve(null);
    if (this.#waiter) {
      return Promise.reject(new Error("a read is already pending"));
    }
    return new Promise((resolve, reject) => {
      this.#waiter = { buffer, resolve, reject };
    });
  }

  write(data: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (this.#failure) return Promise.reject(this.#failure);
    if (socket.destroyed || !socket.writable) {
      return Promise.reject(
        new Error(
          this.#ended
            ? "the peer ended the connection"
            : "the socket is closed",
        ),
      );
    }
    return new Promise((resolve, reject) => {
      socket.write(data, (error?: Error | null) => {
        if (error) reject(error);
        else resolve();
      });
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.clear();
    this.#finish(new Error("the stream was closed"));
    this.#socket.destroy();
  }

  #received(chunk: Uint8Array): void {
    if (this.#closed) return;
    const waiter = this.#waiter;
    if (waiter === undefined) return this.#enqueue(chunk);
    this.#waiter = undefined;
    const n = Math.min(chunk.length, waiter.buffer.length);
    waiter.buffer.set(n === chunk.length ? chunk : chunk.subarray(0, n));
    if (n < chunk.length) this.#enqueue(chunk.subarray(n));
    waiter.resolve(n);
  }

  #enqueue(chunk: Uint8Array): void {
    this.#queue.push(chunk);
    if (this.#queue.charged > this.#maxQueued && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  /** Moves queued bytes into `buffer`; resumes a paused socket. */
  #take(buffer: Uint8Array): number {
    const n = this.#queue.take(buffer);
    if (this.#paused && this.#queue.charged <= this.#maxQueued / 2) {
      this.#paused = false;
      this.#socket.resume();
    }
    return n;
  }

  /** The peer ended (`error` undefined) or the socket failed or closed. */
  #finish(error: Error | undefined): void {
    if (error) this.#failure ??= error;
    this.#ended = true;
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    this.#waiter = undefined;
    if (this.#failure) waiter.reject(this.#failure);
    else waiter.resolve(null);
  }
}
