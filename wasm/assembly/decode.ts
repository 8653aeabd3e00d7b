// The decoders: one framing loop splits a chunk into length-delimited
// frames and walks each frame's fields; a field handler per message kind
// stores what it finds straight into the frame's table entry (layout in
// wasm/layout.ts). Everything reading the input shares the cursor `pos`
// and the reason code `fail`, module globals because they are cheaper than
// returning pairs; that is why every function that moves them lives here.

import {
  H_CONSUMED,
  H_COUNT,
  H_ERROR,
  H_ERROR_AT,
  H_NEED,
  HEADER,
  PATH_HASH,
  PATH_STRING,
  REASON_BAD_TAG,
  REASON_BAD_WIRE_TYPE,
  REASON_FRAME_TOO_LARGE,
  REASON_INVALID_UTF8,
  REASON_TRUNCATED,
  REASON_VARINT_TOO_LONG,
  REASON_WRONG_WIRE_TYPE,
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
} from "../layout";
import {
  I32_BYTES,
  I64_BYTES,
  isRequestField,
  isResponseField,
  MAX_TAG,
  MAX_TAG_BYTES,
  MAX_VARINT_BYTES,
  MIN_TAG,
  TAG_REQ_DATA,
  TAG_REQ_PATH,
  TAG_REQ_PATH_HASH,
  TAG_REQ_REQUEST_ID,
  TAG_REQ_REQUEST_TYPE,
  TAG_RES_DATA,
  TAG_RES_REQUEST_ID,
  TAG_RES_RESPONSE_MESSAGE,
  TAG_RES_RESPONSE_STATUS,
  TAG_RES_RESPONSE_TYPE,
  WIRE_TYPE_BITS,
  WIRE_TYPE_MASK,
  WT_I32,
  WT_I64,
  WT_LEN,
  WT_VARINT,
} from "./proto";
import { FNV_OFFSET, FNV_PRIME, validUtf8 } from "./utf8";

/** Bytes per table word: a column's byte offset is `column * WORD`. */
const WORD: i32 = 4;

/** Where the decoder reads next. */
let pos: usize = 0;
/** Reason code of the first malformed input met, 0 while all is well. */
let fail: i32 = 0;

@inline
function readVarint(end: usize): u64 {
  const p = pos;
  if (p + 5 <= end) {
    // Room for five bytes: up to 35 bits without a loop, in 32-bit
    // arithmetic (path hashes take five, ids three, lengths one or two).
    let b = <u32> load<u8>(p);
    if (b < 0x80) {
      pos = p + 1;
      return <u64> b;
    }
    let r = b & 0x7f;
    b = <u32> load<u8>(p, 1);
    r |= (b & 0x7f) << 7;
    if (b < 0x80) {
      pos = p + 2;
      return <u64> r;
    }
    b = <u32> load<u8>(p, 2);
    r |= (b & 0x7f) << 14;
    if (b < 0x80) {
      pos = p + 3;
      return <u64> r;
    }
    b = <u32> load<u8>(p, 3);
    r |= (b & 0x7f) << 21;
    if (b < 0x80) {
      pos = p + 4;
      return <u64> r;
    }
    b = <u32> load<u8>(p, 4);
    if (b < 0x80) {
      pos = p + 5;
      return <u64> r | (<u64> b << 28);
    }
  }
  return readVarintSlow(end);
}

function readVarintSlow(end: usize): u64 {
  let p = pos;
  let result: u64 = 0;
  let shift: u64 = 0;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (p >= end) {
      // The bits read so far: a lower bound readPrefix can act on early.
      fail = REASON_TRUNCATED;
      return result;
    }
    const b = load<u8>(p++);
    result |= (<u64> (b & 0x7f)) << shift;
    if (b < 0x80) {
      pos = p;
      return result;
    }
    shift += 7;
  }
  fail = REASON_VARINT_TOO_LONG;
  return 0;
}

/** Reads a length-delimited field's length and checks it fits the frame. */
@inline
function readLength(end: usize): usize {
  const len = readVarint(end);
  if (fail) return 0;
  if (len > <u64> (end - pos)) {
    fail = REASON_TRUNCATED;
    return 0;
  }
  return <usize> len;
}

/** Reads a field's tag; sets `fail` for field 0 or a tag over 32 bits. */
@inline
function readTag(end: usize): u32 {
  const start = pos;
  const tag = readVarint(end);
  if (fail) return 0;
  if (tag > MAX_TAG || tag < MIN_TAG || pos - start > MAX_TAG_BYTES) {
    fail = REASON_BAD_TAG;
    return 0;
  }
  return <u32> tag;
}

/**
 * Skips a field the message does not declare, or refuses a declared one
 * (`known`) that came with another wire type than its own.
 */
function skipField(tag: u32, known: bool, end: usize): void {
  if (known) {
    fail = REASON_WRONG_WIRE_TYPE;
    return;
  }
  const wt = tag & WIRE_TYPE_MASK;
  if (wt == WT_VARINT) {
    readVarint(end);
  } else if (wt == WT_I64) {
    if (end - pos < I64_BYTES) fail = REASON_TRUNCATED;
    else pos += I64_BYTES;
  } else if (wt == WT_LEN) {
    const len = readLength(end);
    pos += len;
  } else if (wt == WT_I32) {
    if (end - pos < I32_BYTES) fail = REASON_TRUNCATED;
    else pos += I32_BYTES;
  } else {
    fail = REASON_BAD_WIRE_TYPE;
  }
}

/**
 * Reads one frame's length prefix at `pos`. Returns the body length, or -1
 * when the prefix itself is incomplete (wait for more bytes). Sets `fail`
 * for an over-long varint or a length over `maxMessage`, even when only
 * part of the prefix has arrived.
 */
function readPrefix(end: usize, maxMessage: u32): i64 {
  const start = pos;
  const len = readVarint(end);
  if (fail == REASON_TRUNCATED) {
    // Later bytes only add higher bits: refuse a claim that is already too
    // large instead of waiting for the rest of it.
    if (len > <u64> maxMessage) {
      fail = REASON_FRAME_TOO_LARGE;
      return 0;
    }
    fail = 0;
    pos = start;
    return -1;
  }
  if (fail) return 0;
  if (len > <u64> maxMessage) {
    fail = REASON_FRAME_TOO_LARGE;
    return 0;
  }
  return <i64> len;
}

/** FNV-1a over [p, p+len); the ASCII fast path folds validation into it. */
function hashAndValidate(p: usize, len: usize): u32 {
  let h = FNV_OFFSET;
  let high: u32 = 0;
  const end = p + len;
  for (let q = p; q < end; q++) {
    const b = <u32> load<u8>(q);
    high |= b;
    h = (h ^ b) * FNV_PRIME;
  }
  if (high >= 0x80 && !validUtf8(p, end)) fail = REASON_INVALID_UTF8;
  return h;
}

/** Offset of the cursor within the input, as a table word. */
@inline
function at(input: usize): i32 {
  return <i32> (pos - input);
}

/** Decodes one field of a NanoRPCRequest into its entry. */
@inline
function requestField(tag: u32, entry: usize, input: usize, end: usize): void {
  if (tag == TAG_REQ_REQUEST_ID) {
    store<i32>(entry, <i32> readVarint(end), RQ_ID * WORD);
  } else if (tag == TAG_REQ_REQUEST_TYPE) {
    store<i32>(entry, <i32> readVarint(end), RQ_TYPE * WORD);
  } else if (tag == TAG_REQ_PATH_HASH) {
    // The oneof's last member wins: forget an earlier string path.
    store<u32>(entry, <u32> readVarint(end), RQ_PATH_HASH * WORD);
    store<i32>(entry, PATH_HASH, RQ_PATH_KIND * WORD);
    store<i32>(entry, 0, RQ_PATH_OFF * WORD);
    store<i32>(entry, 0, RQ_PATH_LEN * WORD);
  } else if (tag == TAG_REQ_PATH) {
    const n = readLength(end);
    if (fail) return;
    store<u32>(entry, hashAndValidate(pos, n), RQ_PATH_HASH * WORD);
    store<i32>(entry, PATH_STRING, RQ_PATH_KIND * WORD);
    store<i32>(entry, at(input), RQ_PATH_OFF * WORD);
    store<i32>(entry, <i32> n, RQ_PATH_LEN * WORD);
    pos += n;
  } else if (tag == TAG_REQ_DATA) {
    const n = readLength(end);
    store<i32>(entry, at(input), RQ_DATA_OFF * WORD);
    store<i32>(entry, <i32> n, RQ_DATA_LEN * WORD);
    pos += n;
  } else {
    skipField(tag, isRequestField(tag >> WIRE_TYPE_BITS), end);
  }
}

/** Decodes one field of a NanoRPCResponse into its entry. */
@inline
function responseField(tag: u32, entry: usize, input: usize, end: usize): void {
  if (tag == TAG_RES_REQUEST_ID) {
    store<i32>(entry, <i32> readVarint(end), RS_ID * WORD);
  } else if (tag == TAG_RES_RESPONSE_TYPE) {
    store<i32>(entry, <i32> readVarint(end), RS_TYPE * WORD);
  } else if (tag == TAG_RES_RESPONSE_STATUS) {
    store<i32>(entry, <i32> readVarint(end), RS_STATUS * WORD);
  } else if (tag == TAG_RES_RESPONSE_MESSAGE) {
    const n = readLength(end);
    if (fail) return;
    if (!validUtf8(pos, pos + n)) {
      fail = REASON_INVALID_UTF8;
      return;
    }
    store<i32>(entry, at(input), RS_MSG_OFF * WORD);
    store<i32>(entry, <i32> n, RS_MSG_LEN * WORD);
    pos += n;
  } else if (tag == TAG_RES_DATA) {
    const n = readLength(end);
    store<i32>(entry, at(input), RS_DATA_OFF * WORD);
    store<i32>(entry, <i32> n, RS_DATA_LEN * WORD);
    pos += n;
  } else {
    skipField(tag, isResponseField(tag >> WIRE_TYPE_BITS), end);
  }
}

/**
 * The framing loop both decoders share: reads each frame's prefix, checks
 * the frame lies within the input, clears the entry (absent fields are 0),
 * hands every field to the message's handler, then records the frame's
 * bounds. Stops at `maxFrames` entries, at a partial frame (header `need`
 * says how many bytes it spans once its prefix is complete) or at the first
 * malformed frame (header `error`, `errorAt`). Inlined into each decoder
 * with a constant `requests`, so each gets its own straight-line copy.
 */
@inline
function decodeFrames(
  input: usize,
  len: usize,
  out: usize,
  maxFrames: i32,
  maxMessage: u32,
  requests: bool,
): i32 {
  const end = input + len;
  let count: i32 = 0;
  let need: i32 = 0;
  let entry = out + HEADER * WORD;
  fail = 0;
  pos = input;
  while (count < maxFrames && pos < end) {
    const frameStart = pos;
    const bodyLen = readPrefix(end, maxMessage);
    if (fail || bodyLen < 0) {
      pos = frameStart;
      break;
    }
    if (<u64> bodyLen > <u64> (end - pos)) {
      need = <i32> (pos - frameStart + <usize> bodyLen);
      pos = frameStart;
      break;
    }
    const frameEnd = pos + <usize> bodyLen;
    // Zero the field columns: the eight words before RQ_FRAME_START, which
    // is RS_FRAME_START too; layout.ts keeps both kinds' fields there.
    store<u64>(entry, 0, 0);
    store<u64>(entry, 0, 2 * WORD);
    store<u64>(entry, 0, 4 * WORD);
    store<u64>(entry, 0, 6 * WORD);
    while (pos < frameEnd) {
      const tag = readTag(frameEnd);
      if (fail) break;
      if (requests) requestField(tag, entry, input, frameEnd);
      else responseField(tag, entry, input, frameEnd);
      if (fail) break;
    }
    if (fail) {
      pos = frameStart;
      break;
    }
    const startWord = <i32> (frameStart - input);
    const endWord = <i32> (frameEnd - input);
    if (requests) {
      store<i32>(entry, startWord, RQ_FRAME_START * WORD);
      store<i32>(entry, endWord, RQ_FRAME_END * WORD);
    } else {
      store<i32>(entry, startWord, RS_FRAME_START * WORD);
      store<i32>(entry, endWord, RS_FRAME_END * WORD);
    }
    entry += STRIDE * WORD;
    count++;
  }
  store<i32>(out, count, H_COUNT * WORD);
  store<i32>(out, at(input), H_CONSUMED * WORD);
  store<i32>(out, fail, H_ERROR * WORD);
  store<i32>(out, fail ? at(input) : 0, H_ERROR_AT * WORD);
  store<i32>(out, need, H_NEED * WORD);
  return count;
}

/**
 * Splits and decodes every complete NanoRPCRequest frame in
 * [input, input+len) into the table at `out` (RQ_* columns). Returns the
 * number of entries.
 */
export function decodeRequests(
  input: usize,
  len: usize,
  out: usize,
  maxFrames: i32,
  maxMessage: u32,
): i32 {
  return decodeFrames(input, len, out, maxFrames, maxMessage, true);
}

/** Response counterpart of decodeRequests (RS_* columns). */
export function decodeResponses(
  input: usize,
  len: usize,
  out: usize,
  maxFrames: i32,
  maxMessage: u32,
): i32 {
  return decodeFrames(input, len, out, maxFrames, maxMessage, false);
}
