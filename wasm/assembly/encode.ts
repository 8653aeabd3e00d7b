// The encoders: for each entry of an encoder table (layout in
// wasm/layout.ts, ENC_* columns) they write a frame's length prefix and
// every field up to and including the data field's tag and length. The
// binding appends each frame's data after its header, so payloads are never
// copied into the module.

import {
  ENC_HEADER_LEN,
  ENC_ID,
  ENC_RQ_DATA_LEN,
  ENC_RQ_PATH_HASH,
  ENC_RQ_PATH_KIND,
  ENC_RQ_PATH_LEN,
  ENC_RQ_PATH_PTR,
  ENC_RS_DATA_LEN,
  ENC_RS_MSG_LEN,
  ENC_RS_MSG_PTR,
  ENC_RS_STATUS,
  ENC_STRIDE,
  ENC_TYPE,
  PATH_HASH,
  PATH_STRING,
} from "../layout";
import {
  TAG_BYTES,
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
} from "./proto";

/** Bytes per table word: a column's byte offset is `column * WORD`. */
const WORD: i32 = 4;

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
  return v == 0 ? 0 : TAG_BYTES + varintSize(<u64> <i64> v);
}

@inline
function writeInt32Field(p: usize, tag: u32, v: i32): usize {
  if (v == 0) return p;
  store<u8>(p, <u8> tag);
  return writeVarint(p + TAG_BYTES, <u64> <i64> v);
}

/** Size of a length-delimited field's tag, length and `len` bytes. */
@inline
function bytesFieldSize(len: usize): usize {
  return TAG_BYTES + varintSize(len) + len;
}

/** Writes a length-delimited field's tag and length; returns past them. */
@inline
function writeLengthOf(p: usize, tag: u32, len: usize): usize {
  store<u8>(p, <u8> tag);
  return writeVarint(p + TAG_BYTES, len);
}

/**
 * Writes the headers of `count` NanoRPCResponse frames (ENC_RS_* columns)
 * back to back at `out`, storing each one's length in ENC_HEADER_LEN. The
 * message bytes are copied in; the data is not. Returns bytes written.
 */
export function encodeResponses(table: usize, count: i32, out: usize): usize {
  let p = out;
  for (let i = 0; i < count; i++) {
    const e = table + <usize> (i * ENC_STRIDE * WORD);
    const id = load<i32>(e, ENC_ID * WORD);
    const type = load<i32>(e, ENC_TYPE * WORD);
    const status = load<i32>(e, ENC_RS_STATUS * WORD);
    const msgPtr = <usize> load<u32>(e, ENC_RS_MSG_PTR * WORD);
    const msgLen = <usize> load<u32>(e, ENC_RS_MSG_LEN * WORD);
    const dataLen = <usize> load<u32>(e, ENC_RS_DATA_LEN * WORD);
    let body = int32FieldSize(id) + int32FieldSize(type) +
      int32FieldSize(status);
    if (msgLen) body += bytesFieldSize(msgLen);
    if (dataLen) body += bytesFieldSize(dataLen);
    const start = p;
    p = writeVarint(p, body);
    p = writeInt32Field(p, TAG_RES_REQUEST_ID, id);
    p = writeInt32Field(p, TAG_RES_RESPONSE_TYPE, type);
    p = writeInt32Field(p, TAG_RES_RESPONSE_STATUS, status);
    if (msgLen) {
      p = writeLengthOf(p, TAG_RES_RESPONSE_MESSAGE, msgLen);
      memory.copy(p, msgPtr, msgLen);
      p += msgLen;
    }
    if (dataLen) p = writeLengthOf(p, TAG_RES_DATA, dataLen);
    store<i32>(e, <i32> (p - start), ENC_HEADER_LEN * WORD);
  }
  return p - out;
}

/**
 * Request counterpart of encodeResponses (ENC_RQ_* columns). A hash or
 * string path is written even when zero or empty: oneof members have
 * presence.
 */
export function encodeRequests(table: usize, count: i32, out: usize): usize {
  let p = out;
  for (let i = 0; i < count; i++) {
    const e = table + <usize> (i * ENC_STRIDE * WORD);
    const id = load<i32>(e, ENC_ID * WORD);
    const type = load<i32>(e, ENC_TYPE * WORD);
    const kind = load<i32>(e, ENC_RQ_PATH_KIND * WORD);
    const hash = load<u32>(e, ENC_RQ_PATH_HASH * WORD);
    const pathPtr = <usize> load<u32>(e, ENC_RQ_PATH_PTR * WORD);
    const pathLen = <usize> load<u32>(e, ENC_RQ_PATH_LEN * WORD);
    const dataLen = <usize> load<u32>(e, ENC_RQ_DATA_LEN * WORD);
    let body = int32FieldSize(id) + int32FieldSize(type);
    if (kind == PATH_HASH) body += TAG_BYTES + varintSize(<u64> hash);
    else if (kind == PATH_STRING) body += bytesFieldSize(pathLen);
    if (dataLen) body += bytesFieldSize(dataLen);
    const start = p;
    p = writeVarint(p, body);
    p = writeInt32Field(p, TAG_REQ_REQUEST_ID, id);
    p = writeInt32Field(p, TAG_REQ_REQUEST_TYPE, type);
    if (kind == PATH_HASH) {
      store<u8>(p, <u8> TAG_REQ_PATH_HASH);
      p = writeVarint(p + TAG_BYTES, <u64> hash);
    } else if (kind == PATH_STRING) {
      p = writeLengthOf(p, TAG_REQ_PATH, pathLen);
      memory.copy(p, pathPtr, pathLen);
      p += pathLen;
    }
    if (dataLen) p = writeLengthOf(p, TAG_REQ_DATA, dataLen);
    store<i32>(e, <i32> (p - start), ENC_HEADER_LEN * WORD);
  }
  return p - out;
}
