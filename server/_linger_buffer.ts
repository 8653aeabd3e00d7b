// What a session keeps while its connection is gone (server/_resume.ts):
// its updates, bounded, for the connection that resumes it.

import { ResponseType } from "../wasm/wire.ts";
import { FRAME_OVERHEAD, type FrameSink } from "./_outbox.ts";

const EMPTY = new Uint8Array(0);

/** What a session keeps while its connection is gone. */
export interface Linger {
  readonly buffer: LingerBuffer;
  /** Undefined when `resumeGrace` is too long for a timer: it never ends. */
  readonly timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The sink of a lingering session: keeps its updates, oldest dropped first
 * beyond the bounds; answers to requests of the dropped connection have
 * nobody to go to and are discarded.
 */
export class LingerBuffer implements FrameSink {
  /** Bytes counted against the outgoing buffer: none, this one is bounded. */
  readonly queued = 0;
  /** Updates dropped to keep within the bounds. */
  lost = 0;
  #ids: number[] = [];
  #data: Uint8Array[] = [];
  #head = 0;
  #bytes = 0;
  readonly #maxUpdates: number;
  readonly #maxBytes: number;
  readonly #dropped: () => void;

  constructor(maxUpdates: number, maxBytes: number, dropped: () => void) {
    this.#maxUpdates = maxUpdates;
    this.#maxBytes = maxBytes;
    this.#dropped = dropped;
  }

  /** Updates held now. */
  get size(): number {
    return this.#ids.length - this.#head;
  }

  push(
    id: number,
    type: number,
    _status: number,
    _message: string | undefined,
    data: Uint8Array,
  ): void {
    if (type !== ResponseType.UPDATE) return;
    this.#ids.push(id);
    // A view into a larger message (a forwarded batch of updates) would
    // keep all of it alive: only the update's own bytes are held.
    this.#data.push(
      data.byteLength === data.buffer.byteLength ? data : data.slice(),
    );
    this.#bytes += data.length;
    while (this.size > this.#maxUpdates || this.#bytes > this.#maxBytes) {
      this.#dropOldest();
    }
    if (this.#head > 1024 && this.#head * 2 > this.#ids.length) {
      this.#ids = this.#ids.slice(this.#head);
      this.#data = this.#data.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * Drops (and counts in `lost`) the oldest held updates until the rest,
   * as queued frames, take at most `room` bytes: what a resumed session's
   * outgoing buffer can take of them.
   */
  fit(room: number): void {
    let used = 0;
    let keep = this.#ids.length;
    while (keep > this.#head) {
      const size = this.#data[keep - 1].length + FRAME_OVERHEAD;
      if (used + size > room) break;
      used += size;
      keep--;
    }
    while (this.#head < keep) this.#dropOldest();
  }

  /** Drops the oldest held update, counting it lost. */
  #dropOldest(): void {
    this.#bytes -= this.#data[this.#head].length;
    this.#data[this.#head] = EMPTY;
    this.#head++;
    this.lost++;
    this.#dropped();
  }

  /** Hands every held update to `send`, oldest first, and forgets them. */
  replay(send: (id: number, data: Uint8Array) => void): void {
    for (let i = this.#head; i < this.#ids.length; i++) {
      send(this.#ids[i], this.#data[i]);
    }
    this.#ids = [];
    this.#data = [];
    this.#head = this.#bytes = 0;
  }
}
