/**
 * The byte-stream adapter of a Web Streams pair: a `ReadableStream` of
 * bytes in, a `WritableStream` of bytes out. Fits stdio, child processes,
 * and any custom link (Web APIs only; runs in browsers too).
 *
 * @module
 */

import type { ByteStream, PeerAddress } from "./byte_stream.ts";

/** The two halves of a link. */
export interface StreamPair {
  /** Bytes from the peer. */
  readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  writable: WritableStream<Uint8Array>;
}

/** How {@link webStreamPair} names the peer. */
export interface WebStreamPairOptions {
  /** The peer's address; `{ transport: "stream" }` by default. */
  remoteAddr?: PeerAddress;
}

/**
 * Adapts a readable and a writable stream to a {@link ByteStream}; it locks
 * both.
 *
 * - `read` copies the next chunk into the caller's buffer and keeps what
 *   does not fit for the next read (at most one chunk is held); it returns
 *   `null` when the readable ends.
 * - `write` waits for `writer.ready`, then for the chunk to be written, so
 *   a slow sink makes writes pend. It hands over a copy: a sink may keep
 *   chunks past their write (a TransformStream queues them for its
 *   reader), while the caller may reuse its buffer once the write settles,
 *   as the interface says.
 * - `close` cancels the readable (a pending read returns `null`) and closes
 *   the writable (aborts it if a write is still in flight).
 *
 * @param pair The readable and writable.
 * @param options The peer's address.
 * @returns The stream.
 *
 * @example A session over a child process
 * ```ts
 * import { webStreamPair } from "@nanorpc/nanorpc/transport";
 *
 * const child = new Deno.Command("cat", {
 *   stdin: "piped",
 *   stdout: "piped",
 * }).spawn();
 * const stream = webStreamPair({
 *   readable: child.stdout,
 *   writable: child.stdin,
 * });
 * await stream.write(new Uint8Array([1, 2, 3]));
 * const buffer = new Uint8Array(3);
 * await stream.read(buffer);
 * stream.close();
 * await child.status;
 * ```
 */
export function webStreamPair(
  pair: StreamPair,
  options: WebStreamPairOptions = {},
): ByteStream {
  return new StreamPairAdapter(pair, options);
}

class StreamPairAdapter implements ByteStream {
  readonly transport: string;
  readonly remoteAddr: PeerAddress;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #leftover: Uint8Array | undefined;
  #reading = false;
  #writing = 0;
  #ended = false;
  #closed = false;

  constructor(pair: StreamPair, options: WebStreamPairOptions) {
    this.remoteAddr = options.remoteAddr ?? { transport: "stream" };
    this.transport = this.remoteAddr.transport;
    this.#reader = pair.readable.getReader();
    this.#writer = pair.writable.getWriter();
    // Failures surface through read and write; these would be unhandled.
    this.#reader.closed.catch(() => {});
    this.#writer.closed.catch(() => {});
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    if (this.#reading) throw new Error("Only one read may be pending at once");
    if (!this.#leftover) {
      if (this.#ended) return null;
      if (this.#closed) throw new Error("The stream pair is closed");
      this.#reading = true;
      try {
        for (;;) {
          const { done, value } = await this.#reader.read();
          if (done) {
            this.#ended = true;
            return null;
          }
          if (value.length > 0) {
            this.#leftover = value;
            break;
          }
        }
      } finally {
        this.#reading = false;
      }
    }
    const chunk = this.#leftover;
    const n = Math.min(buffer.length, chunk.length);
    buffer.set(chunk.subarray(0, n));
    this.#leftover = n < chunk.length ? chunk.subarray(n) : undefined;
    return n;
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.#closed) throw new Error("The stream pair is closed");
    this.#writing++;
    try {
      await this.#writer.ready;
      await this.#writer.write(data.slice());
    } finally {
      this.#writing--;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#leftover = undefined;
    this.#reader.cancel().catch(() => {});
    const writer = this.#writer;
    const done = this.#writing > 0 ? writer.abort() : writer.close();
    done.catch(() => {});
  }
}
