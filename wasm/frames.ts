/**
 * Cursors over the result of one decode call: the table a codec's
 * `decodeRequests` or `decodeResponses` fills (layout in wasm/layout.ts).
 * The server's connection loop and the client's reader walk frames through
 * them instead of indexing the table's words by hand.
 *
 * A cursor allocates nothing per frame: `load` points it at a table, `next`
 * moves it to the next entry, and getters read that entry's columns. One
 * cursor is meant to be reused for every read of a connection.
 *
 * The codec's table is shared by every connection of the process and only
 * valid until its next decode. A caller that must wait between two frames
 * (a handler that returns a promise) calls `detach` first: the cursor then
 * owns a copy of the entries it has not finished, at most one copy per load.
 *
 * @example
 * ```ts
 * import { codec } from "./codec.ts";
 * import { RequestFrames } from "./frames.ts";
 *
 * const input = new Uint8Array([2, 0x08, 7, 2, 0x08, 8]);
 * const frames = new RequestFrames();
 * codec.decodeRequests(input, 1 << 20);
 * frames.load(codec.words);
 * while (frames.next()) {
 *   console.log(frames.id, frames.data(input).length); // 7 0, then 8 0
 * }
 * frames.consumed; // 6
 * ```
 *
 * @module
 */

import {
  H_CONSUMED,
  H_COUNT,
  H_ERROR,
  H_ERROR_AT,
  H_NEED,
  HEADER,
  RQ_DATA_LEN,
  RQ_DATA_OFF,
  RQ_FRAME_END,
  RQ_FRAME_START,
  RQ_ID,
  RQ_PATH_HASH,
  RQ_PATH_KIND,
  RQ_PATH_LEN,
  RQ_PATH_OFF,
  RQ_TYPE,
  RS_DATA_LEN,
  RS_DATA_OFF,
  RS_FRAME_END,
  RS_FRAME_START,
  RS_ID,
  RS_MSG_LEN,
  RS_MSG_OFF,
  RS_STATUS,
  RS_TYPE,
  STRIDE,
} from "./layout.ts";
import { DataViews } from "./_views.ts";

const NO_WORDS = new Int32Array(HEADER);

/**
 * What both cursors share: the header of the decode, moving from entry to
 * entry, and detaching from the codec's table. Use {@link RequestFrames} or
 * {@link ResponseFrames}.
 *
 * @example
 * ```ts
 * import { codec } from "./codec.ts";
 * import { type DecodedFrames, ResponseFrames } from "./frames.ts";
 *
 * function countFrames(frames: DecodedFrames): number {
 *   let n = 0;
 *   while (frames.next()) n++;
 *   return n;
 * }
 * codec.decodeResponses(new Uint8Array([2, 0x08, 1]), 1 << 20);
 * countFrames(new ResponseFrames().load(codec.words)); // 1
 * ```
 */
export abstract class DecodedFrames {
  #words: Int32Array = NO_WORDS;
  /** Word index of the current entry in `#words`. */
  #entry = HEADER - STRIDE;
  #index = -1;
  #count = 0;
  #consumed = 0;
  #error = 0;
  #errorAt = 0;
  #need = 0;
  #detached = false;

  /**
   * Points the cursor before the first entry of a table a decode call has
   * just filled, and reads its header. The table must stay untouched until
   * the cursor is done with it or has been {@link detach}ed.
   *
   * @param words The codec's `words` right after its decode call.
   * @returns The cursor itself.
   */
  load(words: Int32Array): this {
    this.#words = words;
    this.#entry = HEADER - STRIDE;
    this.#index = -1;
    this.#count = words[H_COUNT];
    this.#consumed = words[H_CONSUMED];
    this.#error = words[H_ERROR];
    this.#errorAt = words[H_ERROR_AT];
    this.#need = words[H_NEED];
    this.#detached = false;
    return this;
  }

  /**
   * Moves to the next decoded frame.
   *
   * @returns Whether there is one; the getters read it.
   */
  next(): boolean {
    if (this.#index >= this.#count) return false;
    this.#index++;
    this.#entry += STRIDE;
    return this.#index < this.#count;
  }

  /**
   * Makes the cursor own a copy of the current and the remaining entries,
   * so that the codec may decode again (for another connection) while this
   * one waits. Does nothing when already detached since the last load.
   */
  detach(): void {
    if (this.#detached) return;
    const from = HEADER + Math.max(this.#index, 0) * STRIDE;
    const to = HEADER + this.#count * STRIDE;
    this.#words = this.#words.slice(from, Math.max(from, to));
    this.#entry -= from;
    this.#detached = true;
  }

  /** Whether the cursor reads its own copy (see {@link detach}). */
  get detached(): boolean {
    return this.#detached;
  }

  /** Frames the decode call reported. */
  get count(): number {
    return this.#count;
  }

  /** Index of the current frame, -1 before the first {@link next}. */
  get index(): number {
    return this.#index;
  }

  /** Bytes of the input the decoded frames span, from its start. */
  get consumed(): number {
    return this.#consumed;
  }

  /**
   * Reason code of the malformed frame the decode stopped at (see
   * `MalformedReason` in wasm/codec.ts), 0 when none was.
   */
  get error(): number {
    return this.#error;
  }

  /** Offset in the input of the malformed frame, when {@link error}. */
  get errorAt(): number {
    return this.#errorAt;
  }

  /**
   * Bytes the partial frame after the decoded ones spans, when its length
   * prefix has arrived; 0 when unknown or there is none.
   */
  get need(): number {
    return this.#need;
  }

  /** Column `column` of the current entry. */
  protected word(column: number): number {
    return this.#words[this.#entry + column];
  }
}

/**
 * A cursor over the result of `decodeRequests` (the RQ_* columns).
 *
 * @example
 * ```ts
 * import { codec } from "./codec.ts";
 * import { RequestFrames } from "./frames.ts";
 *
 * // REQUEST id 1, path_hash 5, data [9].
 * const input = new Uint8Array([9, 0x08, 1, 0x10, 2, 0x18, 5, 0x52, 1, 9]);
 * const frames = new RequestFrames();
 * codec.decodeRequests(input, 1 << 20);
 * frames.load(codec.words);
 * frames.next();
 * [frames.pathHash, frames.data(input)[0]]; // [5, 9]
 * ```
 */
export class RequestFrames extends DecodedFrames {
  readonly #views: DataViews;

  /**
   * @param reuseViews Whether {@link data} may hand out a view it made for
   * an earlier decode again, when the frame at the same index has its data
   * at the same place of the same buffer (a server's batches of requests:
   * saves ~10 ns and 104 bytes a frame). Such a view, as any view of a
   * read buffer, is valid until its bytes are reused.
   */
  constructor(reuseViews = false) {
    super();
    this.#views = new DataViews(reuseViews);
  }

  /** The request id. */
  get id(): number {
    return this.word(RQ_ID);
  }

  /** The request type (`RequestType` in wasm/wire.ts). */
  get type(): number {
    return this.word(RQ_TYPE);
  }

  /** Which path form was sent: PATH_NONE, PATH_HASH or PATH_STRING. */
  get pathKind(): number {
    return this.word(RQ_PATH_KIND);
  }

  /** The FNV-1a path hash, sent or computed from the path (unsigned). */
  get pathHash(): number {
    return this.word(RQ_PATH_HASH) >>> 0;
  }

  /**
   * The path hash as a signed 32-bit integer (`pathHash | 0`): what the
   * request path looks routes up by, as it is never a boxed number.
   */
  get pathKey(): number {
    return this.word(RQ_PATH_HASH);
  }

  /** Offset of the UTF-8 path in the input, 0 when none was sent. */
  get pathOffset(): number {
    return this.word(RQ_PATH_OFF);
  }

  /** Byte length of the path. */
  get pathLength(): number {
    return this.word(RQ_PATH_LEN);
  }

  /** Offset of the data in the input. */
  get dataOffset(): number {
    return this.word(RQ_DATA_OFF);
  }

  /** Byte length of the data. */
  get dataLength(): number {
    return this.word(RQ_DATA_LEN);
  }

  /** Offset of the frame's first byte (its length prefix). */
  get frameStart(): number {
    return this.word(RQ_FRAME_START);
  }

  /** Offset just past the frame. */
  get frameEnd(): number {
    return this.word(RQ_FRAME_END);
  }

  /**
   * The data as a view of the decoded input (no copy).
   *
   * @param input The bytes the decode call was given.
   */
  data(input: Uint8Array): Uint8Array {
    return this.#views.view(
      input,
      this.index,
      this.word(RQ_DATA_OFF),
      this.word(RQ_DATA_LEN),
    );
  }

  /**
   * Drops the reference to the input {@link data} last viewed, so that a
   * read buffer replaced since (a session's that shrank after a large
   * frame) is not kept alive by an idle connection's cursor.
   *
   * @param keep The buffer still read into: views of it are kept for
   * reuse, others are dropped.
   */
  forgetInput(keep?: ArrayBufferLike): void {
    this.#views.forget(keep);
  }

  /**
   * The UTF-8 path as a view of the decoded input (no copy); empty unless
   * {@link pathKind} is PATH_STRING.
   *
   * @param input The bytes the decode call was given.
   */
  path(input: Uint8Array): Uint8Array {
    const at = this.word(RQ_PATH_OFF);
    return input.subarray(at, at + this.word(RQ_PATH_LEN));
  }
}

/**
 * A cursor over the result of `decodeResponses` (the RS_* columns).
 *
 * @example
 * ```ts
 * import { codec } from "./codec.ts";
 * import { ResponseFrames } from "./frames.ts";
 *
 * // PONG (type 1) for id 3, status OK (1).
 * const input = new Uint8Array([6, 0x08, 3, 0x10, 1, 0x18, 1]);
 * codec.decodeResponses(input, 1 << 20);
 * const frames = new ResponseFrames().load(codec.words);
 * frames.next();
 * [frames.id, frames.type, frames.status]; // [3, 1, 1]
 * ```
 */
export class ResponseFrames extends DecodedFrames {
  /** The request id the response answers. */
  get id(): number {
    return this.word(RS_ID);
  }

  /** The response type (`ResponseType` in wasm/wire.ts). */
  get type(): number {
    return this.word(RS_TYPE);
  }

  /** The response status (`Status` in wasm/wire.ts). */
  get status(): number {
    return this.word(RS_STATUS);
  }

  /** Offset of the UTF-8 response message in the input. */
  get messageOffset(): number {
    return this.word(RS_MSG_OFF);
  }

  /** Byte length of the response message. */
  get messageLength(): number {
    return this.word(RS_MSG_LEN);
  }

  /** Offset of the data in the input. */
  get dataOffset(): number {
    return this.word(RS_DATA_OFF);
  }

  /** Byte length of the data. */
  get dataLength(): number {
    return this.word(RS_DATA_LEN);
  }

  /** Offset of the frame's first byte (its length prefix). */
  get frameStart(): number {
    return this.word(RS_FRAME_START);
  }

  /** Offset just past the frame. */
  get frameEnd(): number {
    return this.word(RS_FRAME_END);
  }

  /**
   * The data as a view of the decoded input (no copy).
   *
   * @param input The bytes the decode call was given.
   */
  data(input: Uint8Array): Uint8Array {
    const at = this.word(RS_DATA_OFF);
    return input.subarray(at, at + this.word(RS_DATA_LEN));
  }

  /**
   * The UTF-8 response message as a view of the decoded input (no copy).
   *
   * @param input The bytes the decode call was given.
   */
  message(input: Uint8Array): Uint8Array {
    const at = this.word(RS_MSG_OFF);
    return input.subarray(at, at + this.word(RS_MSG_LEN));
  }
}
