// The outgoing side of a session: frames queued during a turn of the event
// loop are encoded together and written in one `write`; the bytes held
// (queued, encoded or in flight) are counted so the session can bound them.

import type { ByteStream } from "../transport/byte_stream.ts";
import type { RequestCodec } from "./_core.ts";
import type { ServerStats } from "./stats.ts";

/** Bytes a queued frame costs beyond its data and message (header bound). */
export const FRAME_OVERHEAD = 32;

/** Where a session queues its frames: its outbox, or a resume buffer. */
export interface FrameSink {
  /** Bytes held, counted against the session's outgoing buffer. */
  readonly queued: number;
  /** Queues a frame; `size` is what it counts against the buffer. */
  push(
    id: number,
    type: number,
    status: number,
    message: string | undefined,
    data: Uint8Array,
    size: number,
  ): void;
}

const EMPTY = new Uint8Array(0);

/** Size of the pooled buffers the frames of one flush are encoded into. */
export const POOLED_BUFFER = 8192;
/** Free pooled buffers kept for reuse, across all sessions of the process. */
const POOL_MAX = 256;
/**
 * Buffers whose write has finished. A flush encodes into one of them
 * instead of a new buffer, so a busy session allocates nothing per write;
 * a session takes one only while it has bytes to write.
 */
const pool: Uint8Array[] = [];

export class Outbox implements FrameSink {
  #stream: ByteStream;
  #codec: RequestCodec;
  #stats: ServerStats;
  #lowWater: number;
  #onError: (err: unknown) => void;
  #fields: number[] = [];
  #messages: (string | undefined)[] = [];
  #payloads: Uint8Array[] = [];
  #pending = 0;
  #estimate = 0;
  /**
   * Encoded bytes not yet written, in order: the first is being written
   * while #writing; frames of a later flush are appended to the last one
   * while it has room and is not being written.
   */
  #buffers: Uint8Array[] = [];
  /** How many bytes of each of #buffers are encoded frames. */
  #lengths: number[] = [];
  #writing = false;
  #scheduled = false;
  #corked = false;
  #drain?: PromiseWithResolvers<void>;
  /** Bytes held: queued (estimated), encoded, or being written. */
  queued = 0;

  constructor(
    stream: ByteStream,
    codec: RequestCodec,
    stats: ServerStats,
    lowWater: number,
    onError: (err: unknown) => void,
  ) {
    this.#stream = stream;
    this.#codec = codec;
    this.#stats = stats;
    this.#lowWater = lowWater;
    this.#onError = onError;
  }

  /** Queues a frame; `size` is what it counts against the buffer. */
  push(
    id: number,
    type: number,
    status: number,
    message: string | undefined,
    data: Uint8Array,
    size: number,
  ): void {
    // Written by index and never truncated: the arrays keep their
    // capacity from flush to flush instead of growing again every time.
    const i = this.#pending++;
    const fields = this.#fields;
    fields[i * 3] = id;
    fields[i * 3 + 1] = type;
    fields[i * 3 + 2] = status;
    this.#messages[i] = message;
    this.#payloads[i] = data;
    this.#estimate += size;
    this.queued += size;
    if (!this.#scheduled && !this.#corked) {
      this.#scheduled = true;
      queueMicrotask(this.#flushTask);
    }
  }

  /**
   * Holds frames back until {@link uncork}: a session corks while it serves
   * one read synchronously, so all of that read's answers go out in one
   * write without a microtask per read.
   */
  cork(): void {
    this.#corked = true;
  }

  /** Flushes what was held and lets later frames flush on their own. */
  uncork(): void {
    this.#corked = false;
    this.flush();
  }

  #flushTask = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  /**
   * Encodes every queued frame (copying the data, so views of a read
   * buffer may be reused afterwards) and starts writing, unless a write is
   * in progress: then the frames wait in a buffer of their own, appended to
   * by later flushes, until it ends.
   */
  flush(): void {
    const count = this.#pending;
    if (count === 0) return;
    const estimate = this.#estimate;
    const buffers = this.#buffers;
    const last = buffers.length - 1;
    let size: number;
    // The buffer being written (the first, while writing) stays untouched.
    if (
      last > 0 || (last === 0 && !this.#writing)
    ) {
      const at = this.#lengths[last];
      if (at + estimate <= buffers[last].length) {
        const end = this.#encodeInto(count, buffers[last], at);
        this.#lengths[last] = end;
        size = end - at;
      } else size = this.#encodeNew(count, estimate);
    } else size = this.#encodeNew(count, estimate);
    // Let go of the data (views of a read buffer, messages) now copied.
    const payloads = this.#payloads;
    const messages = this.#messages;
    for (let i = 0; i < count; i++) {
      payloads[i] = EMPTY;
      messages[i] = undefined;
    }
    this.#pending = 0;
    this.queued += size - estimate;
    this.#estimate = 0;
    this.#stats.framesOut += count;
    if (!this.#writing) this.#write();
  }

  /** Encodes the queued frames into a buffer of their own; returns bytes. */
  #encodeNew(count: number, estimate: number): number {
    let buffer: Uint8Array;
    let size: number;
    if (estimate <= POOLED_BUFFER) {
      buffer = pool.pop() ?? new Uint8Array(POOLED_BUFFER);
      size = this.#encodeInto(count, buffer, 0);
    } else {
      buffer = this.#codec.encodeResponses(
        this.#fields,
        this.#messages,
        this.#payloads,
        count,
      );
      size = buffer.length;
    }
    this.#buffers.push(buffer);
    this.#lengths.push(size);
    return size;
  }

  #encodeInto(count: number, buffer: Uint8Array, at: number): number {
    return this.#codec.encodeResponsesInto(
      this.#fields,
      this.#messages,
      this.#payloads,
      count,
      buffer,
      at,
    );
  }

  /** Writes the first of #buffers. */
  #write(): void {
    this.#writing = true;
    const buffer = this.#buffers[0];
    const length = this.#lengths[0];
    this.#stream.write(
      length === buffer.length ? buffer : buffer.subarray(0, length),
    ).then(this.#written, this.#failed);
  }

  #written = (): void => {
    // pop() when one is left: shift() may give the array's room back.
    const one = this.#buffers.length === 1;
    const buffer = one ? this.#buffers.pop()! : this.#buffers.shift()!;
    const length = one ? this.#lengths.pop()! : this.#lengths.shift()!;
    release(buffer);
    this.queued -= length;
    this.#stats.bytesOut += length;
    if (this.#buffers.length > 0) {
      this.#write();
      if (this.queued <= this.#lowWater) this.#wake();
    } else {
      this.#writing = false;
      this.#wake();
    }
  };

  #failed = (err: unknown): void => {
    for (const buffer of this.#buffers) release(buffer);
    this.#buffers.length = 0;
    this.#lengths.length = 0;
    this.#writing = false;
    this.#wake();
    this.#onError(err);
  };

  #wake(): void {
    this.#drain?.resolve();
    this.#drain = undefined;
  }

  /**
   * Resolves when the backlog is at or below the low-water mark, or no
   * write is in progress (written out, or failed).
   */
  drained(): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    return (this.#drain ??= Promise.withResolvers()).promise;
  }

  /** Flushes, then waits (at most `ms`) for everything to be written. */
  async close(ms: number): Promise<void> {
    this.flush();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((r) => timer = setTimeout(r, ms));
    while (this.#writing) {
      const drain = (this.#drain ??= Promise.withResolvers()).promise;
      const more = await Promise.race([
        drain.then(() => true),
        timeout.then(() => false),
      ]);
      if (!more) break;
    }
    clearTimeout(timer);
  }
}

/** Returns a pooled buffer whose write has ended to the pool. */
function release(buffer: Uint8Array): void {
  if (buffer.length === POOLED_BUFFER && pool.length < POOL_MAX) {
    pool.push(buffer);
  }
}
