/**
 * Test kit: a byte stream held in memory, for code that sits above the
 * byte-stream seam (a session's outbox, `Server.serve`) and is tested
 * without sockets. The test plays the peer: it sends bytes the code
 * reads, sees every chunk the code wrote, and decides when writes
 * complete or fail, so a slow or broken peer is scripted, not timed.
 *
 * @module
 */

import type { ByteStream, PeerAddress } from "../transport/byte_stream.ts";
import { concat } from "./frames.ts";

interface HeldWrite {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * A {@link ByteStream} whose peer is the test.
 *
 * - Reading: {@link send} queues bytes for the next reads (a read takes as
 *   much of the first queued chunk as fits); {@link end} makes reads
 *   return `null` once the queue is empty.
 * - Writing: every chunk is copied into {@link writes}. Writes settle at
 *   once, unless {@link hold} makes them pend until {@link release}, or
 *   {@link fail} makes them reject.
 *
 * @example A peer that stops reading, then reads again
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryStream } from "./memory_stream.ts";
 *
 * const stream = new MemoryStream();
 * stream.hold();
 * const written = stream.write(new Uint8Array([1, 2]));
 * assert.equal(stream.pendingWrites, 1);
 * stream.release();
 * await written;
 * assert.deepEqual(stream.written, new Uint8Array([1, 2]));
 *
 * stream.send(new Uint8Array([9]));
 * stream.end();
 * const buffer = new Uint8Array(8);
 * assert.equal(await stream.read(buffer), 1);
 * assert.equal(await stream.read(buffer), null);
 * ```
 */
export class MemoryStream implements ByteStream {
  /** `"memory"`. */
  readonly transport = "memory";
  /** `{ transport: "memory" }`. */
  readonly remoteAddr: PeerAddress = { transport: "memory" };
  /** A copy of every chunk written, in order (held ones included). */
  readonly writes: Uint8Array[] = [];
  /** Why the stream was closed, once {@link close} was called. */
  closeReason: string | undefined;
  #closed = false;
  #incoming: Uint8Array[] = [];
  #ended = false;
  #reader?: PromiseWithResolvers<void>;
  #holding = false;
  #held: HeldWrite[] = [];
  #failure?: { error: unknown };

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Every byte written so far, in one array. */
  get written(): Uint8Array {
    return concat(...this.writes);
  }

  /** Writes that were held and have not settled yet. */
  get pendingWrites(): number {
    return this.#held.length;
  }

  /**
   * The peer sends `bytes`: later reads return them.
   *
   * @param bytes What the code under test will read; copied.
   * @throws {Error} When the peer already ended the stream.
   */
  send(bytes: Uint8Array): void {
    if (this.#ended) throw new Error("The peer already ended the stream");
    if (bytes.length === 0) return;
    this.#incoming.push(bytes.slice());
    this.#wakeReader();
  }

  /** The peer ends the stream: reads return `null` once it is drained. */
  end(): void {
    this.#ended = true;
    this.#wakeReader();
  }

  /** Writes from now on pend until {@link release}. */
  hold(): void {
    this.#holding = true;
  }

  /** Settles every held write, in order; later writes settle at once. */
  release(): void {
    this.#holding = false;
    for (const write of this.#held.splice(0)) write.resolve();
  }

  /**
   * Writes from now on reject with `error`, and so do the held ones: the
   * peer went away.
   *
   * @param error What the writes reject with.
   */
  fail(error: unknown): void {
    this.#failure = { error };
    for (const write of this.#held.splice(0)) write.reject(error);
  }

  /**
   * Reads the next bytes the peer sent into `buffer`.
   *
   * @returns How many bytes were read, or `null` once the peer has ended
   * the stream and everything was read.
   * @throws {Error} When the stream is closed.
   */
  async read(buffer: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closed) throw new Error("The memory stream is closed");
      const chunk = this.#incoming[0];
      if (chunk) {
        const n = Math.min(buffer.length, chunk.length);
        buffer.set(chunk.subarray(0, n));
        if (n === chunk.length) this.#incoming.shift();
        else this.#incoming[0] = chunk.subarray(n);
        return n;
      }
      if (this.#ended) return null;
      this.#reader ??= Promise.withResolvers();
      await this.#reader.promise;
    }
  }

  /**
   * Records a copy of `data`; settles at once unless writes are held.
   *
   * @throws {Error} When the stream is closed or {@link fail} was called.
   */
  write(data: Uint8Array): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new Error("The memory stream is closed"));
    }
    if (this.#failure) return Promise.reject(this.#failure.error);
    this.writes.push(data.slice());
    if (!this.#holding) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#held.push({ resolve, reject });
    return promise;
  }

  /**
   * Closes the stream: a pending read throws, held writes reject.
   *
   * @param reason Why, kept in {@link closeReason}.
   */
  close(reason?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.closeReason = reason;
    const error = new Error("The memory stream is closed");
    for (const write of this.#held.splice(0)) write.reject(error);
    this.#wakeReader();
  }

  #wakeReader(): void {
    this.#reader?.resolve();
    this.#reader = undefined;
  }
}
