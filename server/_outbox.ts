// The outgoing side of a session: frames queued during a turn of the event
// loop are encoded together and written in one `write`; the bytes held
// (queued, encoded or in flight) are counted so the session can bound them.

import type { ByteStream } from "../transport/byte_stream.ts";
import {
  WRITE_SOME,
  type WritesSome,
  writesSome,
} from "../transport/_write_some.ts";
import { PRE_ENCODED } from "../wasm/codec.ts";
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

/** Frames a flush may hold for its arrays to keep their room afterwards. */
const KEPT_FRAMES = 32;

/** Size of the slabs small flushes are encoded into, one after another. */
export const SLAB_SIZE = 65536;
/** A flush estimated at more bytes than this gets a buffer of its own. */
export const SLAB_MAX_FLUSH = 16384;
/** Retired slabs kept for reuse once no write views them. */
const SPARE_SLABS = 4;

/**
 * A buffer small flushes of any session are encoded into back to back,
 * each write taking a view of its own bytes: allocating an ArrayBuffer
 * costs Deno ~0.4 µs however small, and most flushes are a few dozen
 * bytes. Only an idle outbox encodes into it (its write starts at once),
 * so a peer that stops reading holds at most one slab.
 */
class Slab {
  readonly bytes: Uint8Array = new Uint8Array(SLAB_SIZE);
  /** Where the next flush goes. */
  at = 0;
  /** Writes from it that have not settled. */
  views = 0;
}

/** The slab flushes go into now. */
let current: Slab | undefined;
/**
 * Full slabs no write views any more, reused rather than allocated again:
 * a byte stream's write must not keep its bytes past settling (see
 * ByteStream.write), so a slab's bytes are free once its writes settled.
 */
const spares: Slab[] = [];

/** The slab a flush of about `bytes` goes into. */
function slabFor(bytes: number): Slab {
  let slab = current;
  if (slab === undefined || slab.at + bytes > SLAB_SIZE) {
    if (slab !== undefined && slab.views === 0) spare(slab);
    slab = current = spares.pop() ?? new Slab();
    slab.at = 0;
  }
  return slab;
}

/** A write from `slab` settled. */
function release(slab: Slab): void {
  if (--slab.views === 0 && slab !== current) spare(slab);
}

function spare(slab: Slab): void {
  if (spares.length < SPARE_SLABS) spares.push(slab);
}

/** Size of the buffers a session's backlog is encoded into. */
const BACKLOG_SIZE = 4096;

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
   * Encoded bytes not yet written, in order, as `[starts[i], ends[i])` of
   * `buffers[i]`: the first is being written while #writing; a later flush
   * encoded right after the last one waiting in the same slab extends it.
   */
  #buffers: Uint8Array[] = [];
  #starts: number[] = [];
  #ends: number[] = [];
  /** The slab the write in progress views, if it does. */
  #slab: Slab | undefined = undefined;
  /** The buffer this session's backlog is encoded into, from #ownAt. */
  #own: Uint8Array = EMPTY;
  #ownAt = 0;
  #writing = false;
  #scheduled = false;
  #corked = false;
  #drain?: PromiseWithResolvers<void>;
  /** Bytes held: queued (estimated), encoded, or being written. */
  queued = 0;
  /** The stream's fast path, when it has one (transport/_write_some.ts). */
  readonly #some: WritesSome | undefined;

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
    this.#some = writesSome(stream) ? stream : undefined;
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
   * Queues a frame encoded already (see `PRE_ENCODED` in wasm/codec.ts),
   * which must not change until written; `size` is what it counts against
   * the buffer. Alone in its flush, it is written as it is, not copied.
   */
  pushFrame(frame: Uint8Array, size: number): void {
    this.push(0, PRE_ENCODED, 0, undefined, frame, size);
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
   * in progress: then the frames wait for it to end.
   */
  flush(): void {
    const count = this.#pending;
    if (count === 0) return;
    const estimate = this.#estimate;
    let buffer: Uint8Array;
    let start = 0;
    let end: number;
    if (count === 1 && this.#fields[1] === PRE_ENCODED) {
      // Shared with other sessions and never changed: written as it is.
      buffer = this.#payloads[0];
      end = buffer.length;
    } else if (estimate <= SLAB_MAX_FLUSH) {
      // Only an idle outbox uses the shared slab: its write starts now, so
      // a peer that stops reading pins at most one slab. A backlog goes
      // into buffers of the session's own, one flush after another.
      let slab: Slab | undefined;
      if (!this.#writing) {
        slab = slabFor(estimate);
        buffer = slab.bytes;
        start = slab.at;
      } else {
        if (this.#ownAt + estimate > this.#own.length) {
          this.#own = new Uint8Array(Math.max(BACKLOG_SIZE, estimate));
          this.#ownAt = 0;
        }
        buffer = this.#own;
        start = this.#ownAt;
      }
      end = this.#codec.encodeResponsesInto(
        this.#fields,
        this.#messages,
        this.#payloads,
        count,
        buffer,
        start,
      );
      if (slab === undefined) this.#ownAt = end;
      else {
        // Written at once (the outbox is idle): the write in progress.
        slab.at = end;
        slab.views++;
        this.#slab = slab;
      }
    } else {
      buffer = this.#codec.encodeResponses(
        this.#fields,
        this.#messages,
        this.#payloads,
        count,
      );
      end = buffer.length;
    }
    const buffers = this.#buffers;
    const last = buffers.length - 1;
    // Never the chunk being written: its view is taken already.
    if (
      last > 0 && buffers[last] === buffer && this.#ends[last] === start
    ) {
      this.#ends[last] = end;
    } else {
      buffers.push(buffer);
      this.#starts.push(start);
      this.#ends.push(end);
    }
    // Let go of the data (views of a read buffer, messages) now copied.
    // The arrays keep their room for the next flush, unless it was a burst:
    // thousands of idle sessions must not each hold a burst's worth.
    if (count > KEPT_FRAMES) {
      this.#fields = [];
      this.#messages = [];
      this.#payloads = [];
    } else {
      const payloads = this.#payloads;
      const messages = this.#messages;
      for (let i = 0; i < count; i++) {
        payloads[i] = EMPTY;
        messages[i] = undefined;
      }
    }
    this.#pending = 0;
    this.queued += end - start - estimate;
    this.#estimate = 0;
    this.#stats.framesOut += count;
    if (!this.#writing) this.#write();
  }

  /** Writes the first chunk of #buffers. */
  #write(): void {
    this.#writing = true;
    const buffer = this.#buffers[0];
    const start = this.#starts[0];
    const end = this.#ends[0];
    const bytes = start === 0 && end === buffer.length
      ? buffer
      : buffer.subarray(start, end);
    if (this.#some !== undefined) {
      this.#some[WRITE_SOME](bytes).then(this.#wroteSome, this.#failed);
    } else this.#stream.write(bytes).then(this.#written, this.#failed);
  }

  /** A write of the fast path wrote `n` bytes of the first chunk. */
  #wroteSome = (n: number): void => {
    const left = this.#ends[0] - this.#starts[0];
    if (n >= left) {
      this.#written();
      return;
    }
    if (!(n > 0)) {
      this.#failed(new Error(`a write made no progress (${n} bytes)`));
      return;
    }
    // Short: the rest of the chunk goes next, still viewing its slab.
    this.#starts[0] += n;
    this.queued -= n;
    this.#stats.bytesOut += n;
    this.#write();
  };

  #written = (): void => {
    this.#releaseSlab();
    // pop() when one is left: shift() may give the array's room back.
    const one = this.#buffers.length === 1;
    const length = one
      ? this.#ends.pop()! - this.#starts.pop()!
      : this.#ends.shift()! - this.#starts.shift()!;
    if (one) this.#buffers.pop();
    else this.#buffers.shift();
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

  /** The write that viewed a slab (always the first chunk) settled. */
  #releaseSlab(): void {
    const slab = this.#slab;
    if (slab === undefined) return;
    this.#slab = undefined;
    release(slab);
  }

  #failed = (err: unknown): void => {
    this.#releaseSlab();
    this.#buffers.length = 0;
    this.#starts.length = 0;
    this.#ends.length = 0;
    // Nothing encoded is held any more: only frames not yet flushed count.
    this.queued = this.#estimate;
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
