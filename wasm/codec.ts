/**
 * The TypeScript binding of the NanoRPC WebAssembly codec. It owns the
 * module's `WebAssembly.Memory`, is the only file that knows the layout of
 * that memory, and re-takes its views whenever the memory grows.
 *
 * Memory: `[table | input or scratch]` from the module's heap base. The
 * tables' layout (header words, entry columns, reason codes) is defined
 * once, in wasm/layout.ts, which the AssemblyScript module compiles too;
 * this file re-exports the decode table's part of it. wasm/frames.ts walks
 * a decode result without touching the words by hand.
 *
 * Nothing happens on import: the module is decoded, compiled and
 * instantiated, and its memory allocated, by the first call that needs it.
 *
 * @module
 */

import { concat } from "./_bytes.ts";
import { compile, type Exports, instantiate } from "./_module.ts";
import { responsesSize, writeResponses } from "./_responses.ts";
import {
  ENC_HEADER_LEN,
  ENC_ID,
  ENC_RQ_DATA_LEN,
  ENC_RQ_PATH_HASH,
  ENC_RQ_PATH_KIND,
  ENC_RQ_PATH_LEN,
  ENC_RQ_PATH_PTR,
  ENC_STRIDE,
  ENC_TYPE,
  HEADER,
  MAX_FRAMES,
  PATH_STRING,
  STRIDE,
} from "./layout.ts";

export {
  H_CONSUMED,
  H_COUNT,
  H_ERROR,
  H_ERROR_AT,
  H_NEED,
  HEADER,
  MAX_FRAMES,
  PATH_HASH,
  PATH_NONE,
  PATH_STRING,
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
export { MALFORMED_REASONS, MalformedReason } from "./malformed.ts";
export { PRE_ENCODED } from "./_responses.ts";

/**
 * Compiles the codec's WebAssembly module asynchronously, ahead of the
 * first call that needs it (which otherwise compiles it synchronously).
 * Browsers refuse synchronous compiles of a module this size on their main
 * thread, so the browser client awaits this when it loads. Calling it again
 * does nothing.
 *
 * @returns Resolves once the module is compiled.
 *
 * @example
 * ```ts
 * import { codec, compileCodec } from "./codec.ts";
 *
 * await compileCodec();
 * codec.fnv1a(new Uint8Array([0x61])); // 0xe40c292c, no compile on this call
 * ```
 */
export function compileCodec(): Promise<void> {
  return compile();
}

/** Largest message size the decoders accept, whatever the caller asks. */
const MAX_MESSAGE_LIMIT = 0x7fffffff - 16;
const TABLE_WORDS = HEADER + MAX_FRAMES * STRIDE;
const TABLE_BYTES = TABLE_WORDS * 4;
const PAGE = 65536;
/** Bytes of one encoder entry. */
const ENC_BYTES = ENC_STRIDE * 4;
/** Largest header the encoders write for one frame, message excluded. */
const MAX_HEADER = 64;

/** Below this many elements a loop copies faster than a view and set(). */
const SMALL_COPY = 64;
/** Decodes of fewer frames than this copy their table through a kept view. */
const CACHED_VIEWS = 64;

/**
 * One instance of the codec module and the views over its memory. The
 * module is compiled and instantiated, and its memory and result table
 * allocated, on the first call that needs them, never on import. Use the
 * shared {@link codec}; the class is exported for tests and benchmarks.
 *
 * @example
 * ```ts
 * import { Codec, H_COUNT } from "./codec.ts";
 *
 * const own = new Codec(); // nothing compiled yet
 * own.decodeRequests(new Uint8Array([2, 0x08, 7]), 1 << 20); // now it is
 * own.words[H_COUNT]; // 1
 * ```
 */
export class Codec {
  #wasm: Exports | undefined;
  /** Address of the module's table (header, then entries). */
  #table = 0;
  /** Address of the input, encoder entries and scratch space. */
  #data = 0;
  /** The module's table; re-taken when the memory grows. */
  #tableWords: Int32Array = new Int32Array(0);
  /** Views of the first entries of #tableWords, by count; see #copyTable. */
  #tableViews: (Int32Array | undefined)[] = [];
  /** Encoder entries at the data region; re-taken when the memory grows. */
  #entryWords: Int32Array = new Int32Array(0);
  /** Bytes of the whole memory; re-taken when the memory grows. */
  #u8: Uint8Array = new Uint8Array(0);
  #words: Int32Array | undefined;

  /**
   * The result table of the last decode: header, then entries (layout in
   * wasm/layout.ts; the cursors of wasm/frames.ts walk it). It lives in JavaScript memory, so neither memory growth nor an
   * encode call in between can detach or clobber it; only the next decode
   * overwrites it. Always the same array.
   */
  get words(): Int32Array {
    return this.#words ??= new Int32Array(TABLE_WORDS);
  }

  /** Bytes of WebAssembly memory the module has now (instantiates it). */
  get memorySize(): number {
    return this.#reserve(0).memory.buffer.byteLength;
  }

  /**
   * Makes sure `bytes` bytes fit after the data region, instantiating the
   * module on first use, and returns its exports. Only this binding grows
   * the memory, and growth detaches the old view (its length drops to 0),
   * so the fast path need not ask the memory for its buffer.
   */
  #reserve(bytes: number): Exports {
    // Strict: an empty view (not started, or detached) never passes.
    if (this.#data + bytes < this.#u8.length) return this.#wasm!;
    return this.#grow(bytes);
  }

  #grow(bytes: number): Exports {
    const wasm = this.#wasm ?? this.#start();
    const memory = wasm.memory;
    const needed = this.#data + bytes;
    if (memory.buffer.byteLength < needed) {
      memory.grow(Math.ceil((needed - memory.buffer.byteLength) / PAGE));
    }
    if (this.#u8.buffer !== memory.buffer) {
      this.#u8 = new Uint8Array(memory.buffer);
      this.#tableViews = [];
      this.#tableWords = new Int32Array(
        memory.buffer,
        this.#table,
        TABLE_WORDS,
      );
      this.#entryWords = new Int32Array(
        memory.buffer,
        this.#data,
        MAX_FRAMES * ENC_STRIDE,
      );
    }
    return wasm;
  }

  #start(): Exports {
    const wasm = instantiate();
    this.#wasm = wasm;
    this.#table = wasm.heapBase();
    this.#data = this.#table + TABLE_BYTES;
    this.#reserve(MAX_FRAMES * ENC_BYTES);
    return wasm;
  }

  /**
   * Copies `input` into the module and decodes every complete request frame
   * in it (at most {@link MAX_FRAMES}). Read the results from
   * {@link words}; entry offsets are relative to `input`.
   */
  decodeRequests(input: Uint8Array, maxMessageSize: number): number {
    const wasm = this.#reserve(input.length);
    this.#u8.set(input, this.#data);
    return this.#copyTable(wasm.decodeRequests(
      this.#data,
      input.length,
      this.#table,
      MAX_FRAMES,
      messageLimit(maxMessageSize),
    ));
  }

  /** Response counterpart of {@link decodeRequests}. */
  decodeResponses(input: Uint8Array, maxMessageSize: number): number {
    const wasm = this.#reserve(input.length);
    this.#u8.set(input, this.#data);
    return this.#copyTable(wasm.decodeResponses(
      this.#data,
      input.length,
      this.#table,
      MAX_FRAMES,
      messageLimit(maxMessageSize),
    ));
  }

  /** Copies the header and `count` entries out to {@link words}. */
  #copyTable(count: number): number {
    const words = this.words;
    const table = this.#tableWords;
    const n = HEADER + count * STRIDE;
    if (n <= SMALL_COPY) {
      for (let i = 0; i < n; i++) words[i] = table[i];
    } else if (count < CACHED_VIEWS) {
      // A view per count, kept: no new view object per decode.
      words.set(this.#tableViews[count] ??= table.subarray(0, n));
    } else words.set(table.subarray(0, n));
    return count;
  }

  /** FNV-1a of `bytes`, computed in the module. */
  fnv1a(bytes: Uint8Array): number {
    const wasm = this.#reserve(bytes.length);
    this.#u8.set(bytes, this.#data);
    return wasm.fnv1a(this.#data, bytes.length) >>> 0;
  }

  /**
   * Encodes `count` response frames into one new buffer. `fields` holds
   * three numbers per frame (id, type, status), each written as an int32
   * (its low 32 bits, as {@link encodeRequests} writes its numbers);
   * `messages[i]` is the response message or `undefined`; `payloads[i]`
   * the data. A frame of
   * type {@link PRE_ENCODED} is its payload, copied as it is. Response
   * headers are written in TypeScript (wasm/_responses.ts), not by the
   * module: for a few bytes per frame that is cheaper than its table.
   */
  encodeResponses(
    fields: ArrayLike<number>,
    messages: ArrayLike<string | undefined>,
    payloads: ArrayLike<Uint8Array>,
    count: number,
  ): Uint8Array {
    const out = new Uint8Array(
      responsesSize(fields, messages, payloads, 0, count),
    );
    writeResponses(fields, messages, payloads, 0, count, out, 0);
    return out;
  }

  /**
   * {@link encodeResponses} into `out` from `at`, with no allocation: for a
   * caller that reuses its buffers. `out` must have room for every frame:
   * its data, its message (at most 3 bytes per UTF-16 unit) and 32 bytes of
   * header (with the types and statuses of wasm/wire.ts).
   *
   * @returns The offset just past the last frame written.
   * @throws {RangeError} At the first frame `out` has no room for (the
   * ones before it are written).
   */
  encodeResponsesInto(
    fields: ArrayLike<number>,
    messages: ArrayLike<string | undefined>,
    payloads: ArrayLike<Uint8Array>,
    count: number,
    out: Uint8Array,
    at: number,
  ): number {
    return writeResponses(fields, messages, payloads, 0, count, out, at);
  }

  /**
   * Encodes `count` request frames into one new buffer. `fields` holds four
   * numbers per frame (id, type, pathKind, pathHash), the id and type
   * written as int32s and the hash as a uint32 (their low 32 bits);
   * `paths[i]` the UTF-8 path bytes for PATH_STRING; `payloads[i]` the
   * data.
   */
  encodeRequests(
    fields: ArrayLike<number>,
    paths: ArrayLike<Uint8Array | undefined>,
    payloads: ArrayLike<Uint8Array>,
    count: number,
  ): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let first = 0; first < count; first += MAX_FRAMES) {
      const n = Math.min(MAX_FRAMES, count - first);
      parts.push(this.#requests(fields, paths, payloads, first, n));
    }
    return parts.length === 1 ? parts[0] : concat(parts);
  }

  /** Encodes request frames [first, first+n) (n <= MAX_FRAMES). */
  #requests(
    fields: ArrayLike<number>,
    paths: ArrayLike<Uint8Array | undefined>,
    payloads: ArrayLike<Uint8Array>,
    first: number,
    n: number,
  ): Uint8Array {
    let extra = 0;
    for (let i = first; i < first + n; i++) extra += paths[i]?.length ?? 0;
    const wasm = this.#reserve(n * (ENC_BYTES + MAX_HEADER) + 2 * extra + 16);
    const w = this.#entryWords;
    let scratch = align8(this.#data + n * ENC_BYTES);
    let size = 0;
    for (let i = 0; i < n; i++) {
      const k = first + i;
      const kind = fields[k * 4 + 2];
      const path = kind === PATH_STRING ? paths[k] : undefined;
      const o = i * ENC_STRIDE;
      w[o + ENC_ID] = fields[k * 4];
      w[o + ENC_TYPE] = fields[k * 4 + 1];
      w[o + ENC_RQ_PATH_KIND] = kind;
      w[o + ENC_RQ_PATH_HASH] = fields[k * 4 + 3];
      w[o + ENC_RQ_PATH_PTR] = scratch;
      w[o + ENC_RQ_PATH_LEN] = path?.length ?? 0;
      w[o + ENC_RQ_DATA_LEN] = payloads[k].length;
      size += payloads[k].length;
      if (path) {
        this.#u8.set(path, scratch);
        scratch += path.length;
      }
    }
    let src = align8(scratch);
    size += wasm.encodeRequests(this.#data, n, src);
    // Each frame's header, as the module wrote it, then its data.
    const frames = new Uint8Array(size);
    const u8 = this.#u8;
    let dst = 0;
    for (let i = 0; i < n; i++) {
      const end = src + w[i * ENC_STRIDE + ENC_HEADER_LEN];
      while (src < end) frames[dst++] = u8[src++];
      const payload = payloads[first + i];
      frames.set(payload, dst);
      dst += payload.length;
    }
    return frames;
  }
}

/**
 * The module takes the limit as a u32 and reports `need` as an i32: clamp
 * so that Infinity or 4 GiB do not wrap to 0 and a negative number does not
 * wrap to 4 GiB.
 */
function messageLimit(maxMessageSize: number): number {
  return Math.max(0, Math.min(maxMessageSize, MAX_MESSAGE_LIMIT)) || 0;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * The codec shared by everything in this process. Importing it costs
 * nothing: the module is instantiated by the first call.
 *
 * @example
 * ```ts
 * import { codec } from "./codec.ts";
 *
 * codec.fnv1a(new TextEncoder().encode("foobar")); // 0xbf9cf968
 * ```
 */
export const codec: Codec = new Codec();
