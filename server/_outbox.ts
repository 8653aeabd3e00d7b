// The outgoing side of a session: frames queued during a turn of the event
// loop are encoded together and written in one `write`; the bytes held
// (queued, encoded or in flight) are counted so the session can bound them.

import { concat } from "../wasm/_bytes.ts";
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
  #chunks: Uint8Array[] = [];
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
    this.#fields.push(id, type, status);
    this.#messages.push(message);
    this.#payloads.push(data);
    this.#pending++;
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
   * Encodes every queued frame into one chunk (copying the data, so views
   * of a read buffer may be reused afterwards) and starts writing it.
   */
  flush(): void {
    const count = this.#pending;
    if (count === 0) return;
    const chunk = this.#codec.encodeResponses(
      this.#fields,
      this.#messages,
      this.#payloads,
      count,
    );
    // The encoder has copied everything: reuse the arrays.
    this.#fields.length = 0;
    this.#messages.length = 0;
    this.#payloads.length = 0;
    this.#pending = 0;
    this.queued += chunk.length - this.#estimate;
    this.#estimate = 0;
    this.#stats.framesOut += count;
    this.#chunks.push(chunk);
    if (!this.#writing) this.#write();
  }

  async #write(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#chunks.length > 0) {
        const chunk = this.#chunks.length === 1
          ? this.#chunks[0]
          : concat(this.#chunks);
        this.#chunks = [];
        await this.#stream.write(chunk);
        this.queued -= chunk.length;
        this.#stats.bytesOut += chunk.length;
        if (this.queued <= this.#lowWater) this.#wake();
      }
    } catch (err) {
      this.#chunks = [];
      this.#onError(err);
    } finally {
      this.#writing = false;
      this.#wake();
    }
  }

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
