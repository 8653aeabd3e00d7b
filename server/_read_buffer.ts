// A session's read buffer: it grows only as bytes arrive (never to what a
// length prefix merely claims), keeps a partial frame across reads, and
// gives memory back once a burst is over.

/** Size of a new or idle session's buffer. */
const INITIAL_READ = 4096;
/** Size a busy session's buffer grows to first. */
const STEADY_READ = 65536;

export class ReadBuffer {
  /** The bytes; `bytes[0, filled)` are unconsumed. Replaced, never resized. */
  bytes: Uint8Array = new Uint8Array(INITIAL_READ);
  /** How many bytes are unconsumed. */
  filled = 0;
  /** Bytes a partial frame at the start needs before decoding is worth it. */
  need = 0;
  #max: number;
  #lent = false;

  /** @param max The largest frame, prefix included. */
  constructor(max: number) {
    this.#max = max;
  }

  /**
   * The free space to read into. A full buffer grows (to at least 64 KiB,
   * doubling after that, never past the largest frame).
   */
  space(): Uint8Array {
    if (this.filled === this.bytes.length) {
      const size = Math.min(
        Math.max(this.bytes.length * 2, STEADY_READ),
        this.#max,
      );
      const bytes = new Uint8Array(size);
      bytes.set(this.bytes.subarray(0, this.filled));
      this.bytes = bytes;
    }
    return this.filled === 0 ? this.bytes : this.bytes.subarray(this.filled);
  }

  /**
   * Someone may read views of the current bytes after they are consumed (a
   * handler past its time limit): the next {@link consume} moves the rest
   * to a new buffer instead of overwriting this one.
   */
  lend(): void {
    this.#lent = true;
  }

  /** Drops the first `count` bytes, keeping the partial frame after them. */
  consume(count: number): void {
    const rest = this.filled - count;
    if (this.#lent || (rest === 0 && this.bytes.length > STEADY_READ)) {
      const next = new Uint8Array(Math.max(INITIAL_READ, rest));
      next.set(this.bytes.subarray(count, this.filled));
      this.bytes = next;
      this.#lent = false;
    } else if (rest > 0) {
      this.bytes.copyWithin(0, count, this.filled);
    }
    this.filled = rest;
  }

  /**
   * After a read of `n` bytes that left nothing unconsumed: a small read
   * into a grown buffer means the burst is over, so an idle session keeps
   * only INITIAL_READ bytes.
   */
  relax(n: number): void {
    if (
      this.filled === 0 && n < INITIAL_READ && this.bytes.length > INITIAL_READ
    ) {
      this.bytes = new Uint8Array(INITIAL_READ);
    }
  }
}
