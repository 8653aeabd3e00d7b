/**
 * The layout of the codec's tables, shared word for word by the
 * AssemblyScript module (wasm/assembly/) and the TypeScript side. This file
 * is written in the common subset of both languages -- plain `export const`
 * with integer literals, which AssemblyScript types as `i32` and TypeScript
 * as number literals -- so both compilers read the one definition.
 *
 * A decode call fills a table of 32-bit words: a header of {@link HEADER}
 * words, then one entry of {@link STRIDE} words per decoded frame. Request
 * and response entries share their columns where the messages share a
 * field: id, type, data and the frame's bounds sit at the same word in both.
 * Offsets are relative to the decoded input; an absent field reports
 * offset 0 and length 0.
 *
 * The encoders read a table of {@link ENC_STRIDE} words per frame that the
 * binding fills and the module completes with each frame's header length.
 *
 * @example
 * ```ts
 * import { codec } from "./codec.ts";
 * import { H_COUNT, HEADER, RQ_ID, STRIDE } from "./layout.ts";
 *
 * codec.decodeRequests(new Uint8Array([2, 0x08, 7]), 1 << 20);
 * const w = codec.words;
 * for (let i = 0; i < w[H_COUNT]; i++) {
 *   console.log(w[HEADER + i * STRIDE + RQ_ID]); // 7
 * }
 * ```
 *
 * @module
 */

/** Words before the first entry of a decode table. */
export const HEADER = 8;
/** Words per entry of a decode table. */
export const STRIDE = 10;
/** Most frames one decode call reports; a chunk with more takes further calls. */
export const MAX_FRAMES = 1024;

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
/** Request entry word: which path form was sent, see {@link PATH_NONE}. */
export const RQ_PATH_KIND = 2;
/** Request entry word: FNV-1a path hash (sent, or computed from the path). */
export const RQ_PATH_HASH = 3;
/** Request entry word: offset of the UTF-8 path. */
export const RQ_PATH_OFF = 4;
/** Request entry word: byte length of the path. */
export const RQ_PATH_LEN = 5;
/** Request entry word: offset of the data. */
export const RQ_DATA_OFF = 6;
/** Request entry word: byte length of the data. */
export const RQ_DATA_LEN = 7;
/** Request entry word: offset of the frame's first byte. */
export const RQ_FRAME_START = 8;
/** Request entry word: offset just past the frame. */
export const RQ_FRAME_END = 9;

/** Response entry word: request id. */
export const RS_ID = 0;
/** Response entry word: response type. */
export const RS_TYPE = 1;
/** Response entry word: response status. */
export const RS_STATUS = 2;
/** Response entry word: offset of the UTF-8 response message. */
export const RS_MSG_OFF = 4;
/** Response entry word: byte length of the response message. */
export const RS_MSG_LEN = 5;
/** Response entry word: offset of the data. */
export const RS_DATA_OFF = 6;
/** Response entry word: byte length of the data. */
export const RS_DATA_LEN = 7;
/** Response entry word: offset of the frame's first byte. */
export const RS_FRAME_START = 8;
/** Response entry word: offset just past the frame. */
export const RS_FRAME_END = 9;

/** The request carried no path. */
export const PATH_NONE = 0;
/** The request carried `path_hash`. */
export const PATH_HASH = 1;
/** The request carried `path` (the hash is computed from it). */
export const PATH_STRING = 2;

/** Reason code: a varint (prefix, tag or value) runs over 10 bytes. */
export const REASON_VARINT_TOO_LONG = 1;
/** Reason code: the length prefix exceeds the maximum message size. */
export const REASON_FRAME_TOO_LARGE = 2;
/** Reason code: a field runs past the end of its frame. */
export const REASON_TRUNCATED = 3;
/** Reason code: a path (or response message) is not valid UTF-8. */
export const REASON_INVALID_UTF8 = 4;
/** Reason code: wire type 3, 4, 6 or 7. */
export const REASON_BAD_WIRE_TYPE = 5;
/** Reason code: field number 0, or a tag over 32 bits or 5 bytes. */
export const REASON_BAD_TAG = 6;
/** Reason code: a known field with a wire type other than its own. */
export const REASON_WRONG_WIRE_TYPE = 7;

/** Words per entry of an encoder table. */
export const ENC_STRIDE = 8;
/** Encoder entry word (both kinds): request id. */
export const ENC_ID = 0;
/** Encoder entry word (both kinds): request or response type. */
export const ENC_TYPE = 1;
/** Response encoder entry word: response status. */
export const ENC_RS_STATUS = 2;
/** Response encoder entry word: address of the UTF-8 message in memory. */
export const ENC_RS_MSG_PTR = 3;
/** Response encoder entry word: byte length of the message. */
export const ENC_RS_MSG_LEN = 4;
/** Response encoder entry word: byte length of the data. */
export const ENC_RS_DATA_LEN = 5;
/** Request encoder entry word: path kind, see {@link PATH_NONE}. */
export const ENC_RQ_PATH_KIND = 2;
/** Request encoder entry word: path hash, sent for {@link PATH_HASH}. */
export const ENC_RQ_PATH_HASH = 3;
/** Request encoder entry word: address of the UTF-8 path in memory. */
export const ENC_RQ_PATH_PTR = 4;
/** Request encoder entry word: byte length of the path. */
export const ENC_RQ_PATH_LEN = 5;
/** Request encoder entry word: byte length of the data. */
export const ENC_RQ_DATA_LEN = 6;
/** Encoder entry word (both kinds), written by the module: header bytes. */
export const ENC_HEADER_LEN = 7;
