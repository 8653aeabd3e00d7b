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

/** Options of {@link nodeSocketStream}. */
export interface NodeSocketStreamOptions {
  /**
   * Bytes received and not yet read that make the socket stop reading
   * until half of them are read: the bound of the stream's read queue.
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
 * write settles once the socket has handed its bytes to the kernel.
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

class NodeSocketStream implements ByteStream {
  readonly transport: string;
  readonly remoteAddr: PeerAddress;
  readonly #socket: Socket;
  readonly #maxQueued: number;
  /** Received chunks; the first is read from `#head` on. */
  #chunks: Uint8Array[] = [];
  #head = 0;
  #queued = 0;
  #paused = false;
  #ended = false;
  #failure: Error | undefined;
  #closed = false;
  #waiter: Waiter | undefined;

  constructor(socket: Socket, maxQueued: number, transport: "tcp" | "unix") {
    this.#socket = socket;
    this.#maxQueued = maxQueued;
    this.transport = transport;
    this.remoteAddr = transport === "unix" ? { transport } : {
      transport,
      hostname: socket.remoteAddress,
      port: socket.remotePort,
    };
    if (transport === "tcp") socket.setNoDelay(true);
    socket.on("data", (chunk: Uint8Array) => this.#received(chunk));
    socket.on("end", () => this.#finish(undefined));
    socket.on("close", () => this.#finish(undefined));
    socket.on("error", (error: Error) => this.#finish(error));
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.reject(this.#failure);
    if (this.#queued > 0) return Promise.resolve(this.#take(buffer));
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
      return Promise.reject(new Error("the socket is closed"));
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
    this.#finish(new Error("the stream was closed"));
    this.#socket.destroy();
  }

  #received(chunk: Uint8Array): void {
    const waiter = this.#waiter;
    if (waiter === undefined) return this.#queue(chunk);
    this.#waiter = undefined;
    const n = Math.min(chunk.length, waiter.buffer.length);
    waiter.buffer.set(n === chunk.length ? chunk : chunk.subarray(0, n));
    if (n < chunk.length) this.#queue(chunk.subarray(n));
    waiter.resolve(n);
  }

  #queue(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#queued += chunk.length;
    if (this.#queued > this.#maxQueued && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  /** Moves queued bytes into `buffer`; resumes a paused socket. */
  #take(buffer: Uint8Array): number {
    let n = 0;
    while (n < buffer.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0];
      const take = Math.min(chunk.length - this.#head, buffer.length - n);
      buffer.set(chunk.subarray(this.#head, this.#head + take), n);
      n += take;
      this.#head += take;
      if (this.#head === chunk.length) {
        this.#chunks.shift();
        this.#head = 0;
      }
    }
    this.#queued -= n;
    if (this.#paused && this.#queued <= this.#maxQueued / 2) {
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
