/**
 * The TypeScript binding of the NanoRPC WebAssembly codec. It owns the
 * module's `WebAssembly.Memory`, is the only file that knows the layout of
 * that memory, and re-takes its views whenever the memory grows.
 *
 * Layout: `[table | input or scratch]`, both starting at the module's heap
 * base. The table holds a header ({@link HEADER} words) and then one entry
 * of {@link STRIDE} words per decoded frame.
 *
 * @module
 */

import { concat } from "./_bytes.ts";
import { CODEC_WASM_BASE64 } from "./codec.generated.ts";

/** Words before the first entry of the result table. */
export const HEADER = 8;
/** Words per entry of the result table. */
export const STRIDE = 10;

/** Header word: number of entries decoded. */
export const H_COUNT = 0;
/** Header word: bytes consumed by the decoded frames. */
export const H_CONSUMED = 1;
/** Header word: reason code of a malformed frame, 0 for none. */
export const H_ERROR = 2;
/** Header word: offset of the malformed frame. */
export const H_ERROR_AT = 3;
/** Header word: total bytes of a partial frame whose prefix is complete. */
export const H_NEED = 4;

/** Request entry word: request id. */
export const RQ_ID = 0;
/** Request entry word: request type. */
export const RQ_TYPE = 1;
/** Request entry word: which path form was sent, see PATH_NONE and co. */
export const RQ_PATH_KIND = 2;
/** Request entry word: FNV-1a path hash (sent, or computed from the path). */
export const RQ_PATH_HASH = 3;
/** Request entry word: offset of the UTF-8 path in the input. */
export const RQ_PATH_OFF = 4;
/** Request entry word: byte length of the path. */
export const RQ_PATH_LEN = 5;
/** Request entry word: offset of the data in the input. */
export const RQ_DATA_OFF = 6;
/** Request entry word: byte length of the data. */
export const RQ_DATA_LEN = 7;
/** Entry word (both kinds): offset of the frame's first byte. */
export const RQ_FRAME_START = 8;
/** Entry word (both kinds): offset just past the frame. */
export const RQ_FRAME_END = 9;

/** Response entry word: request id. */
export const RS_ID = 0;
/** Response entry word: response type. */
export const RS_TYPE = 1;
/** Response entry word: response status. */
export const RS_STATUS = 2;
/** Response entry word: offset of the UTF-8 response message. */
export const RS_MSG_OFF = 3;
/** Response entry word: byte length of the response message. */
export const RS_MSG_LEN = 4;
/** Response entry word: offset of the data. */
export const RS_DATA_OFF = 5;
/** Response entry word: byte length of the data. */
export const RS_DATA_LEN = 6;
/** Response entry word: offset of the frame's first byte. */
export const RS_FRAME_START = 7;
/** Response entry word: offset just past the frame. */
export const RS_FRAME_END = 8;

/** The request carried no path. */
export const PATH_NONE = 0;
/** The request carried `path_hash`. */
export const PATH_HASH = 1;
/** The request carried `path` (the hash is computed from it). */
export const PATH_STRING = 2;

/**
 * Reason codes of a malformed frame, as found in header word
 * {@link H_ERROR}; {@link MALFORMED_REASONS} has a sentence for each.
 */
export const MalformedReason = {
  /** A varint (prefix, tag or value) runs over 10 bytes. */
  VARINT_TOO_LONG: 1,
  /** The length prefix exceeds the maximum message size. */
  FRAME_TOO_LARGE: 2,
  /** A field runs past the end of its frame. */
  TRUNCATED: 3,
  /** A path (or response message) is not valid UTF-8. */
  INVALID_UTF8: 4,
  /** Wire type 3, 4, 6 or 7. */
  BAD_WIRE_TYPE: 5,
  /** Field number 0, or a tag over 32 bits or longer than 5 bytes. */
  BAD_TAG: 6,
  /** A known field with a wire type other than its own. */
  WRONG_WIRE_TYPE: 7,
} as const;

/** A value of {@link MalformedReason}. */
export type MalformedReason =
  typeof MalformedReason[keyof typeof MalformedReason];

/** Why a frame is malformed, indexed by the codec's reason code. */
export const MALFORMED_REASONS: readonly string[] = [
  "",
  "Varint longer than 10 bytes",
  "Frame length prefix exceeds the maximum message size",
  "Field runs past the end of the frame",
  "Path is not valid UTF-8",
  "Invalid wire type (groups and wire types 6 and 7 are not allowed)",
  "Invalid field tag (field number 0, or a tag over 32 bits or 5 bytes)",
  "Known field sent with the wrong wire type",
];

/** Most frames decoded per call; a chunk with more takes further calls. */
export const MAX_FRAMES = 16384;

/** Largest message size the decoders accept, whatever the caller asks. */
const MAX_MESSAGE_LIMIT = 0x7fffffff - 16;
const TABLE_BYTES = (HEADER + MAX_FRAMES * STRIDE) * 4;
const PAGE = 65536;
/** Words of one encoder entry, and its bytes. */
const ENTRY_WORDS = 8;
const ENTRY_BYTES = ENTRY_WORDS * 4;
/** Largest header the encoders write for one frame, message excluded. */
const MAX_HEADER = 64;

interface Exports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  fnv1a(ptr: number, len: number): number;
  decodeRequests(
    input: number,
    len: number,
    out: number,
    maxFrames: number,
    maxMessage: number,
  ): number;
  decodeResponses(
    input: number,
    len: number,
    out: number,
    maxFrames: number,
    maxMessage: number,
  ): number;
  encodeResponses(table: number, count: number, out: number): number;
  encodeRequests(table: number, count: number, out: number): number;
}

function instantiate(): Exports {
  const binary = atob(CODEC_WASM_BASE64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const module = new WebAssembly.Module(bytes);
  return new WebAssembly.Instance(module, {
    env: {
      abort() {
        throw new Error("NanoRPC codec aborted");
      },
    },
  }).exports as unknown as Exports;
}

const encoder = new TextEncoder();

/**
 * One instance of the codec module and the views over its memory. Use the
 * shared {@link codec}; the class is exported for tests and benchmarks.
 */
export class Codec {
  #wasm: Exports;
  #table: number;
  #data: number;
  /** The module's table; re-taken when the memory grows. */
  #tableWords!: Int32Array;
  /** Encoder entries at the data region; re-taken when the memory grows. */
  #entryWords!: Int32Array;
  /** Bytes of the whole memory; re-taken when the memory grows. */
  u8!: Uint8Array;
  /**
   * The result table of the last decode: header, then entries. It lives in
   * JavaScript memory, so neither memory growth nor an encode call in
   * between can detach or clobber it; only the next decode overwrites it.
   */
  readonly words: Int32Array = new Int32Array(TABLE_BYTES / 4);

  /** Instantiates the embedded module. */
  constructor() {
    this.#wasm = instantiate();
    this.#table = this.#wasm.heapBase();
    this.#data = this.#table + TABLE_BYTES;
    this.#reserve(MAX_FRAMES * ENTRY_BYTES);
  }

  /** Makes sure `bytes` bytes fit after the data region. */
  #reserve(bytes: number): void {
    const memory = this.#wasm.memory;
    const needed = this.#data + bytes;
    if (memory.buffer.byteLength < needed) {
      memory.grow(Math.ceil((needed - memory.buffer.byteLength) / PAGE));
    }
    if (this.u8?.buffer !== memory.buffer) {
      this.u8 = new Uint8Array(memory.buffer);
      this.#tableWords = new Int32Array(
        memory.buffer,
        this.#table,
        TABLE_BYTES / 4,
      );
      this.#entryWords = new Int32Array(
        memory.buffer,
        this.#data,
        MAX_FRAMES * ENTRY_WORDS,
      );
    }
  }

  /**
   * Copies `input` into the module and decodes every complete request frame
   * in it (at most {@link MAX_FRAMES}). Read the results from
   * {@link words}; entry offsets are relative to `input`.
   */
  decodeRequests(input: Uint8Array, maxMessageSize: number): number {
    this.#reserve(input.length);
    this.u8.set(input, this.#data);
    return this.#copyTable(this.#wasm.decodeRequests(
      this.#data,
      input.length,
      this.#table,
      MAX_FRAMES,
      messageLimit(maxMessageSize),
    ));
  }

  /** Response counterpart of {@link decodeRequests}. */
  decodeResponses(input: Uint8Array, maxMessageSize: number): number {
    this.#reserve(input.length);
    this.u8.set(input, this.#data);
    return this.#copyTable(this.#wasm.decodeResponses(
      this.#data,
      input.length,
      this.#table,
      MAX_FRAMES,
      messageLimit(maxMessageSize),
    ));
  }

  /** Copies the header and `count` entries out to {@link words}. */
  #copyTable(count: number): number {
    this.words.set(this.#tableWords.subarray(0, HEADER + count * STRIDE));
    return count;
  }

  /** FNV-1a of `bytes`, computed in the module. */
  fnv1a(bytes: Uint8Array): number {
    this.#reserve(bytes.length);
    this.u8.set(bytes, this.#data);
    return this.#wasm.fnv1a(this.#data, bytes.length) >>> 0;
  }

  /**
   * Encodes `count` response frames into one new buffer. `fields` holds
   * three numbers per frame (id, type, status); `messages[i]` is the
   * response message or `undefined`; `payloads[i]` the data.
   */
  encodeResponses(
    fields: ArrayLike<number>,
    messages: ArrayLike<string | undefined>,
    payloads: ArrayLike<Uint8Array>,
    count: number,
  ): Uint8Array {
    return this.#encode(count, payloads, (first, n) => {
      let extra = 0;
      for (let i = first; i < first + n; i++) {
        extra += (messages[i]?.length ?? 0) * 3;
      }
      this.#reserve(n * (ENTRY_BYTES + MAX_HEADER) + 2 * extra + 8);
      const w = this.#entryWords;
      let scratch = this.#data + n * ENTRY_BYTES;
      for (let i = 0; i < n; i++) {
        const k = first + i;
        const message = messages[k];
        let msgLen = 0;
        if (message) {
          const room = this.u8.subarray(scratch, scratch + message.length * 3);
          msgLen = encoder.encodeInto(message, room).written;
        }
        const o = i * ENTRY_WORDS;
        w[o] = fields[k * 3];
        w[o + 1] = fields[k * 3 + 1];
        w[o + 2] = fields[k * 3 + 2];
        w[o + 3] = scratch;
        w[o + 4] = msgLen;
        w[o + 5] = payloads[k].length;
        scratch += msgLen;
      }
      return align8(scratch);
    }, this.#wasm.encodeResponses);
  }

  /**
   * Encodes `count` request frames into one new buffer. `fields` holds four
   * numbers per frame (id, type, pathKind, pathHash); `paths[i]` the UTF-8
   * path bytes for PATH_STRING; `payloads[i]` the data.
   */
  encodeRequests(
    fields: ArrayLike<number>,
    paths: ArrayLike<Uint8Array | undefined>,
    payloads: ArrayLike<Uint8Array>,
    count: number,
  ): Uint8Array {
    return this.#encode(count, payloads, (first, n) => {
      let extra = 0;
      for (let i = first; i < first + n; i++) extra += paths[i]?.length ?? 0;
      this.#reserve(n * (ENTRY_BYTES + MAX_HEADER) + 2 * extra + 8);
      const w = this.#entryWords;
      let scratch = this.#data + n * ENTRY_BYTES;
      for (let i = 0; i < n; i++) {
        const k = first + i;
        const kind = fields[k * 4 + 2];
        const path = kind === PATH_STRING ? paths[k] : undefined;
        const o = i * ENTRY_WORDS;
        w[o] = fields[k * 4];
        w[o + 1] = fields[k * 4 + 1];
        w[o + 2] = kind;
        w[o + 3] = fields[k * 4 + 3];
        w[o + 4] = scratch;
        w[o + 5] = path?.length ?? 0;
        w[o + 6] = payloads[k].length;
        if (path) {
          this.u8.set(path, scratch);
          scratch += path.length;
        }
      }
      return align8(scratch);
    }, this.#wasm.encodeRequests);
  }

  /**
   * The batch loop both encoders share: `fill` writes the entries of frames
   * [first, first+n) at the data region and returns where the module may
   * write headers; `encode` is the module's encoder; the headers are then
   * interleaved with the payloads into the result.
   */
  #encode(
    count: number,
    payloads: ArrayLike<Uint8Array>,
    fill: (first: number, n: number) => number,
    encode: (table: number, n: number, out: number) => number,
  ): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let first = 0; first < count; first += MAX_FRAMES) {
      const n = Math.min(MAX_FRAMES, count - first);
      const out = fill(first, n);
      const written = encode(this.#data, n, out);
      const w = this.#entryWords;
      const u8 = this.u8;
      let size = written;
      for (let i = first; i < first + n; i++) size += payloads[i].length;
      const frames = new Uint8Array(size);
      let src = out;
      let dst = 0;
      for (let i = 0; i < n; i++) {
        const end = src + w[i * ENTRY_WORDS + 7];
        while (src < end) frames[dst++] = u8[src++];
        const payload = payloads[first + i];
        const len = payload.length;
        if (len > 64) {
          frames.set(payload, dst);
          dst += len;
        } else {
          // Cheaper than set() for the small payloads most frames carry.
          for (let j = 0; j < len; j++) frames[dst++] = payload[j];
        }
      }
      parts.push(frames);
    }
    return parts.length === 1 ? parts[0] : concat(parts);
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

/** The codec shared by everything in this process. */
export const codec: Codec = new Codec();
