// NanoRPC codec in AssemblyScript: frame splitting, protobuf field decoding,
// UTF-8 validation and FNV-1a path hashing over a whole chunk per call, plus
// batch encoders for response and request frame headers.
//
// Everything works on raw memory owned by the TypeScript binding
// (wasm/codec.ts): no managed objects, no allocation. Results go into a
// table of i32 words whose layout the binding mirrors:
//
//   header (HEADER words): count, consumed, error, errorAt, need
//   then `count` entries of STRIDE words each.

const HEADER: i32 = 8;
const STRIDE: i32 = 10;

// Reason codes for malformed input (mirrored in wasm/codec.ts).
const VARINT_TOO_LONG: i32 = 1;
const FRAME_TOO_LARGE: i32 = 2;
const TRUNCATED: i32 = 3;
const INVALID_UTF8: i32 = 4;
const BAD_WIRE_TYPE: i32 = 5;
const BAD_TAG: i32 = 6; // field 0, tag over 32 bits or over 5 bytes
const WRONG_WIRE_TYPE: i32 = 7;

// Path kinds of a request.
const PATH_NONE: i32 = 0;
const PATH_HASH: i32 = 1;
const PATH_STRING: i32 = 2;

const FNV_OFFSET: u32 = 0x811c9dc5;
const FNV_PRIME: u32 = 0x01000193;

// Decoder state shared by the helpers below; globals are cheaper than
// returning pairs.
let pos: usize = 0;
let fail: i32 = 0;

/** First address the binding may use: past the module's static data. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}

@inline
function readVarint(end: usize): u64 {
  let p = pos;
  if (p < end) {
    const b0 = load<u8>(p);
    if (b0 < 0x80) {
      pos = p + 1;
      return <u64> b0;
    }
  }
  return readVarintSlow(end);
}

function readVarintSlow(end: usize): u64 {
  let p = pos;
  let result: u64 = 0;
  let shift: u64 = 0;
  for (let i = 0; i < 10; i++) {
    if (p >= end) {
      // The bits read so far: a lower bound readPrefix can act on early.
      fail = TRUNCATED;
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
  fail = VARINT_TOO_LONG;
  return 0;
}

/** Skips an unknown field of wire type `wt`; sets `fail` when it cannot. */
function skipField(wt: i32, end: usize): void {
  if (wt == 0) {
    readVarint(end);
  } else if (wt == 1) {
    if (end - pos < 8) fail = TRUNCATED;
    else pos += 8;
  } else if (wt == 2) {
    const len = readVarint(end);
    if (fail) return;
    if (len > <u64> (end - pos)) fail = TRUNCATED;
    else pos += <usize> len;
  } else if (wt == 5) {
    if (end - pos < 4) fail = TRUNCATED;
    else pos += 4;
  } else {
    fail = BAD_WIRE_TYPE;
  }
}

/** Reads a length-delimited field's length and checks it fits the frame. */

@inline
function readLength(end: usize): usize {
  const len = readVarint(end);
  if (fail) return 0;
  if (len > <u64> (end - pos)) {
    fail = TRUNCATED;
    return 0;
  }
  return <usize> len;
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
  if (high >= 0x80 && !validUtf8(p, end)) fail = INVALID_UTF8;
  return h;
}

/** Strict UTF-8 (Unicode table 3-7): no overlongs, surrogates or > U+10FFFF. */
function validUtf8(p: usize, end: usize): bool {
  while (p < end) {
    const b = <u32> load<u8>(p);
    if (b < 0x80) {
      p++;
      continue;
    }
    let n: usize = 0;
    let lo: u32 = 0x80;
    let hi: u32 = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      n = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      if (b == 0xe0) lo = 0xa0;
      else if (b == 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      if (b == 0xf0) lo = 0x90;
      else if (b == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    const b1 = <u32> load<u8>(p + 1);
    if (b1 < lo || b1 > hi) return false;
    for (let i: usize = 2; i <= n; i++) {
      const c = <u32> load<u8>(p + i);
      if ((c & 0xc0) != 0x80) return false;
    }
    p += n + 1;
  }
  return true;
}

/** FNV-1a 32-bit over `len` bytes at `p` (no validation). */
export function fnv1a(p: usize, len: usize): u32 {
  let h = FNV_OFFSET;
  const end = p + len;
  for (let q = p; q < end; q++) h = (h ^ <u32> load<u8>(q)) * FNV_PRIME;
  return h;
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
  if (fail == TRUNCATED) {
    // Later bytes only add higher bits: refuse a claim that is already too
    // large instead of waiting for the rest of it.
    if (len > <u64> maxMessage) {
      fail = FRAME_TOO_LARGE;
      return 0;
    }
    fail = 0;
    pos = start;
    return -1;
  }
  if (fail) return 0;
  if (len > <u64> maxMessage) {
    fail = FRAME_TOO_LARGE;
    return 0;
  }
  return <i64> len;
}

function writeHeader(
  out: usize,
  count: i32,
  consumed: i32,
  error: i32,
  errorAt: i32,
  need: i32,
): void {
  store<i32>(out, count);
  store<i32>(out, consumed, 4);
  store<i32>(out, error, 8);
  store<i32>(out, errorAt, 12);
  store<i32>(out, need, 16);
}

/**
 * Splits and decodes every complete NanoRPCRequest frame in
 * [input, input+len). Entry words: id, type, pathKind, pathHash, pathOff,
 * pathLen, dataOff, dataLen, frameStart, frameEnd (offsets relative to
 * `input`). Stops at `maxFrames` entries, at a partial frame (header `need`
 * says how many bytes the partial frame spans when its prefix is complete)
 * or at the first malformed frame (header `error`, `errorAt`). Returns the
 * number of entries.
 */
export function decodeRequests(
  input: usize,
  len: usize,
  out: usize,
  maxFrames: i32,
  maxMessage: u32,
): i32 {
  const end = input + len;
  let count: i32 = 0;
  let need: i32 = 0;
  let entry = out + HEADER * 4;
  fail = 0;
  pos = input;
  while (count < maxFrames && pos < end) {
    const frameStart = pos;
    const bodyLen = readPrefix(end, maxMessage);
    if (fail) {
      pos = frameStart;
      break;
    }
    if (bodyLen < 0) break;
    const bodyStart = pos;
    if (<u64> bodyLen > <u64> (end - bodyStart)) {
      need = <i32> (bodyStart - frameStart + <usize> bodyLen);
      pos = frameStart;
      break;
    }
    const frameEnd = bodyStart + <usize> bodyLen;
    let id: i32 = 0;
    let type: i32 = 0;
    let kind = PATH_NONE;
    let hash: u32 = 0;
    // Absent fields report offset 0 and length 0, inside the input.
    let pathOff: usize = input;
    let pathLen: usize = 0;
    let dataOff: usize = input;
    let dataLen: usize = 0;
    while (pos < frameEnd) {
      const tagStart = pos;
      const tag = readVarint(frameEnd);
      if (fail) break;
      if (tag > 0xffffffff || tag < 8 || pos - tagStart > 5) {
        fail = BAD_TAG;
        break;
      }
      const field = <u32> (tag >> 3);
      const wt = <i32> (tag & 7);
      if (field == 1 || field == 2 || field == 3) {
        if (wt != 0) {
          fail = WRONG_WIRE_TYPE;
          break;
        }
        const v = readVarint(frameEnd);
        if (field == 1) id = <i32> v;
        else if (field == 2) type = <i32> v;
        else {
          // The oneof's last member wins: forget an earlier string path.
          hash = <u32> v;
          kind = PATH_HASH;
          pathOff = input;
          pathLen = 0;
        }
      } else if (field == 4 || field == 10) {
        if (wt != 2) {
          fail = WRONG_WIRE_TYPE;
          break;
        }
        const n = readLength(frameEnd);
        if (fail) break;
        if (field == 4) {
          pathOff = pos;
          pathLen = n;
          kind = PATH_STRING;
          hash = hashAndValidate(pos, n);
        } else {
          dataOff = pos;
          dataLen = n;
        }
        pos += n;
      } else {
        skipField(wt, frameEnd);
      }
      if (fail) break;
    }
    if (fail) {
      pos = frameStart;
      break;
    }
    store<i32>(entry, id);
    store<i32>(entry, type, 4);
    store<i32>(entry, kind, 8);
    store<u32>(entry, hash, 12);
    store<i32>(entry, <i32> (pathOff - input), 16);
    store<i32>(entry, <i32> pathLen, 20);
    store<i32>(entry, <i32> (dataOff - input), 24);
    store<i32>(entry, <i32> dataLen, 28);
    store<i32>(entry, <i32> (frameStart - input), 32);
    store<i32>(entry, <i32> (frameEnd - input), 36);
    entry += STRIDE * 4;
    count++;
  }
  writeHeader(
    out,
    count,
    <i32> (pos - input),
    fail,
    fail ? <i32> (pos - input) : 0,
    need,
  );
  return count;
}

/**
 * Splits and decodes every complete NanoRPCResponse frame. Entry words: id,
 * type, status, messageOff, messageLen, dataOff, dataLen, frameStart,
 * frameEnd, 0. Header and stopping rules as in decodeRequests.
 */
export function decodeResponses(
  input: usize,
  len: usize,
  out: usize,
  maxFrames: i32,
  maxMessage: u32,
): i32 {
  const end = input + len;
  let count: i32 = 0;
  let need: i32 = 0;
  let entry = out + HEADER * 4;
  fail = 0;
  pos = input;
  while (count < maxFrames && pos < end) {
    const frameStart = pos;
    const bodyLen = readPrefix(end, maxMessage);
    if (fail) {
      pos = frameStart;
      break;
    }
    if (bodyLen < 0) break;
    const bodyStart = pos;
    if (<u64> bodyLen > <u64> (end - bodyStart)) {
      need = <i32> (bodyStart - frameStart + <usize> bodyLen);
      pos = frameStart;
      break;
    }
    const frameEnd = bodyStart + <usize> bodyLen;
    let id: i32 = 0;
    let type: i32 = 0;
    let status: i32 = 0;
    let msgOff: usize = input;
    let msgLen: usize = 0;
    let dataOff: usize = input;
    let dataLen: usize = 0;
    while (pos < frameEnd) {
      const tagStart = pos;
      const tag = readVarint(frameEnd);
      if (fail) break;
      if (tag > 0xffffffff || tag < 8 || pos - tagStart > 5) {
        fail = BAD_TAG;
        break;
      }
      const field = <u32> (tag >> 3);
      const wt = <i32> (tag & 7);
      if (field >= 1 && field <= 3) {
        if (wt != 0) {
          fail = WRONG_WIRE_TYPE;
          break;
        }
        const v = <i32> readVarint(frameEnd);
        if (field == 1) id = v;
        else if (field == 2) type = v;
        else status = v;
      } else if (field == 4 || field == 10) {
        if (wt != 2) {
          fail = WRONG_WIRE_TYPE;
          break;
        }
        const n = readLength(frameEnd);
        if (fail) break;
        if (field == 4) {
          if (!validUtf8(pos, pos + n)) {
            fail = INVALID_UTF8;
            break;
          }
          msgOff = pos;
          msgLen = n;
        } else {
          dataOff = pos;
          dataLen = n;
        }
        pos += n;
      } else {
        skipField(wt, frameEnd);
      }
      if (fail) break;
    }
    if (fail) {
      pos = frameStart;
      break;
    }
    store<i32>(entry, id);
    store<i32>(entry, type, 4);
    store<i32>(entry, status, 8);
    store<i32>(entry, <i32> (msgOff - input), 12);
    store<i32>(entry, <i32> msgLen, 16);
    store<i32>(entry, <i32> (dataOff - input), 20);
    store<i32>(entry, <i32> dataLen, 24);
    store<i32>(entry, <i32> (frameStart - input), 28);
    store<i32>(entry, <i32> (frameEnd - input), 32);
    store<i32>(entry, 0, 36);
    entry += STRIDE * 4;
    count++;
  }
  writeHeader(
    out,
    count,
    <i32> (pos - input),
    fail,
    fail ? <i32> (pos - input) : 0,
    need,
  );
  return count;
}

@inline
function varintSize(v: u64): usize {
  let n: usize = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

@inline
function writeVarint(p: usize, v: u64): usize {
  while (v >= 0x80) {
    store<u8>(p++, <u8> (v | 0x80));
    v >>= 7;
  }
  store<u8>(p++, <u8> v);
  return p;
}

/** Size of an int32 field (tag byte + sign-extended varint), 0 when unset. */

@inline
function int32FieldSize(v: i32): usize {
  return v == 0 ? 0 : 1 + varintSize(<u64> <i64> v);
}

@inline
function writeInt32Field(p: usize, tag: u8, v: i32): usize {
  if (v == 0) return p;
  store<u8>(p, tag);
  return writeVarint(p + 1, <u64> <i64> v);
}

/**
 * Writes, for each of `count` response entries at `table` (8 words: id,
 * type, status, messagePtr, messageLen, dataLen, unused, out headerLen),
 * the frame's length prefix and every field up to and including the data
 * field's tag and length, back to back at `out`. The caller appends each
 * frame's `dataLen` data bytes after its header. Returns bytes written.
 */
export function encodeResponses(table: usize, count: i32, out: usize): usize {
  let p = out;
  for (let i = 0; i < count; i++) {
    const e = table + <usize> (i * 32);
    const id = load<i32>(e);
    const type = load<i32>(e, 4);
    const status = load<i32>(e, 8);
    const msgPtr = <usize> load<u32>(e, 12);
    const msgLen = <usize> load<u32>(e, 16);
    const dataLen = <usize> load<u32>(e, 20);
    let body = int32FieldSize(id) + int32FieldSize(type) +
      int32FieldSize(status);
    if (msgLen) body += 1 + varintSize(msgLen) + msgLen;
    if (dataLen) body += 1 + varintSize(dataLen) + dataLen;
    const start = p;
    p = writeVarint(p, body);
    p = writeInt32Field(p, 0x08, id);
    p = writeInt32Field(p, 0x10, type);
    p = writeInt32Field(p, 0x18, status);
    if (msgLen) {
      store<u8>(p, 0x22);
      p = writeVarint(p + 1, msgLen);
      memory.copy(p, msgPtr, msgLen);
      p += msgLen;
    }
    if (dataLen) {
      store<u8>(p, 0x52);
      p = writeVarint(p + 1, dataLen);
    }
    store<i32>(e, <i32> (p - start), 28);
  }
  return p - out;
}

/**
 * Request counterpart of encodeResponses. Entry words: id, type, pathKind,
 * pathHash, pathPtr, pathLen, dataLen, out headerLen. A hash or string path
 * is written even when zero or empty (oneof members have presence).
 */
export function encodeRequests(table: usize, count: i32, out: usize): usize {
  let p = out;
  for (let i = 0; i < count; i++) {
    const e = table + <usize> (i * 32);
    const id = load<i32>(e);
    const type = load<i32>(e, 4);
    const kind = load<i32>(e, 8);
    const hash = load<u32>(e, 12);
    const pathPtr = <usize> load<u32>(e, 16);
    const pathLen = <usize> load<u32>(e, 20);
    const dataLen = <usize> load<u32>(e, 24);
    let body = int32FieldSize(id) + int32FieldSize(type);
    if (kind == PATH_HASH) body += 1 + varintSize(<u64> hash);
    else if (kind == PATH_STRING) body += 1 + varintSize(pathLen) + pathLen;
    if (dataLen) body += 1 + varintSize(dataLen) + dataLen;
    const start = p;
    p = writeVarint(p, body);
    p = writeInt32Field(p, 0x08, id);
    p = writeInt32Field(p, 0x10, type);
    if (kind == PATH_HASH) {
      store<u8>(p, 0x18);
      p = writeVarint(p + 1, <u64> hash);
    } else if (kind == PATH_STRING) {
      store<u8>(p, 0x22);
      p = writeVarint(p + 1, pathLen);
      memory.copy(p, pathPtr, pathLen);
      p += pathLen;
    }
    if (dataLen) {
      store<u8>(p, 0x52);
      p = writeVarint(p + 1, dataLen);
    }
    store<i32>(e, <i32> (p - start), 28);
  }
  return p - out;
}
