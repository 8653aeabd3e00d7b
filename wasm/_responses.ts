// Writes NanoRPCResponse frames straight into an output buffer. A
// response's header is a handful of bytes (length prefix, id, type, status,
// message, data tag and length): filling the module's encoder table and
// copying the header back out cost more than writing it here (the server's
// JavaScript per request fell 18% at 16 requests per read). Decoding, the
// per-byte work, stays in the module. Internal to wasm/codec.ts.

/**
 * The response "type" of a frame that is already encoded: the encoders
 * copy its payload (a whole frame, length prefix included) as it is. A
 * server encodes an UPDATE once per publish and shares it this way. It is
 * not an int32, so no type a peer can send is taken for it.
 *
 * @example
 * ```ts
 * import { codec, PRE_ENCODED } from "./codec.ts";
 *
 * const update = codec.encodeResponses([7, 3, 1], [undefined], [new Uint8Array([9])], 1);
 * const both = codec.encodeResponses(
 *   [1, 2, 1, 0, PRE_ENCODED, 0],
 *   [undefined, undefined],
 *   [new Uint8Array(0), update],
 *   2,
 * );
 * both.length; // 7 (the RESPONSE) + update.length
 * ```
 */
export const PRE_ENCODED = 2 ** 32;

/** Protobuf tags of the NanoRPCResponse fields (field << 3 | wire type). */
const TAG_ID = 0x08;
const TAG_TYPE = 0x10;
const TAG_STATUS = 0x18;
const TAG_MESSAGE = 0x22;
const TAG_DATA = 0x52;

/** Payloads up to this size are copied by a loop, longer ones by set(). */
const SMALL_PAYLOAD = 16;

const utf8 = new TextEncoder();
/** Where messages are encoded first, to learn their UTF-8 length. */
let scratch = new Uint8Array(256);

/** Bytes of a varint holding the unsigned `v` (below 2^32). */
function varintSize(v: number): number {
  return v < 0x80
    ? 1
    : v < 0x4000
    ? 2
    : v < 0x200000
    ? 3
    : v < 0x10000000
    ? 4
    : 5;
}

/** Bytes of an int32 field, 0 when it is 0 (proto3 leaves it out). */
function int32FieldSize(v: number): number {
  return v === 0 ? 0 : 1 + (v < 0 ? 10 : varintSize(v));
}

function writeVarint(out: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[at++] = v;
  return at;
}

/** An int32 field; a negative value is sign-extended to 10 bytes. */
function writeInt32Field(
  out: Uint8Array,
  at: number,
  tag: number,
  v: number,
): number {
  if (v === 0) return at;
  out[at++] = tag;
  if (v >= 0) return writeVarint(out, at, v);
  let low = v >>> 0;
  for (let i = 0; i < 4; i++) {
    out[at++] = (low & 0x7f) | 0x80;
    low >>>= 7;
  }
  // Bits 28-31 of the value, then 32-63, all ones.
  out[at++] = low | 0xf0;
  for (let i = 0; i < 4; i++) out[at++] = 0xff;
  out[at++] = 0x01;
  return at;
}

/** The UTF-8 bytes of `message`, in `scratch` (valid until the next call). */
function encodeMessage(message: string): Uint8Array {
  const room = message.length * 3;
  if (scratch.length < room) scratch = new Uint8Array(room);
  return scratch.subarray(0, utf8.encodeInto(message, scratch).written);
}

/**
 * Bytes frames [first, first+n) take; `fields` holds id, type, status per
 * frame.
 */
export function responsesSize(
  fields: ArrayLike<number>,
  messages: ArrayLike<string | undefined>,
  payloads: ArrayLike<Uint8Array>,
  first: number,
  n: number,
): number {
  let size = 0;
  for (let k = first; k < first + n; k++) {
    const len = payloads[k].length;
    if (fields[k * 3 + 1] === PRE_ENCODED) {
      size += len;
      continue;
    }
    const message = messages[k];
    let body = int32FieldSize(fields[k * 3] | 0) +
      int32FieldSize(fields[k * 3 + 1] | 0) +
      int32FieldSize(fields[k * 3 + 2] | 0);
    if (message) {
      const bytes = encodeMessage(message).length;
      body += 1 + varintSize(bytes) + bytes;
    }
    if (len > 0) body += 1 + varintSize(len) + len;
    size += varintSize(body) + body;
  }
  return size;
}

/**
 * Writes frames [first, first+n) into `out` at `at`; returns the offset
 * past the last one. Throws a RangeError at the first frame that does not
 * fit (the frames before it are written).
 */
export function writeResponses(
  fields: ArrayLike<number>,
  messages: ArrayLike<string | undefined>,
  payloads: ArrayLike<Uint8Array>,
  first: number,
  n: number,
  out: Uint8Array,
  at: number,
): number {
  for (let k = first; k < first + n; k++) {
    const payload = payloads[k];
    const len = payload.length;
    if (fields[k * 3 + 1] === PRE_ENCODED) {
      out.set(payload, at); // A RangeError when it does not fit.
      at += len;
      continue;
    }
    // int32 fields: their low 32 bits (ToInt32), as protobuf-es keeps an
    // int32's and encodeRequests' Int32Array does. A number past 2^32 had
    // its varint cut short of the size counted for it.
    const id = fields[k * 3] | 0;
    const type = fields[k * 3 + 1] | 0;
    const status = fields[k * 3 + 2] | 0;
    if (
      !messages[k] && id >= 0 && type >= 0 &&
      type < ONE_BYTE && status >= 0 && status < ONE_BYTE && len < SMALL_BODY
    ) {
      at = writeShort(out, at, id, type, status, payload, k - first + 1, n);
      continue;
    }
    const message = messages[k] ? encodeMessage(messages[k]!) : undefined;
    let body = int32FieldSize(id) + int32FieldSize(type) +
      int32FieldSize(status);
    if (message) body += 1 + varintSize(message.length) + message.length;
    if (len > 0) body += 1 + varintSize(len) + len;
    const size = varintSize(body) + body;
    if (at + size > out.length) noRoom(k - first + 1, n, size, at, out);
    at = writeVarint(out, at, body);
    at = writeInt32Field(out, at, TAG_ID, id);
    at = writeInt32Field(out, at, TAG_TYPE, type);
    at = writeInt32Field(out, at, TAG_STATUS, status);
    if (message) {
      out[at++] = TAG_MESSAGE;
      at = writeVarint(out, at, message.length);
      out.set(message, at);
      at += message.length;
    }
    if (len === 0) continue;
    out[at++] = TAG_DATA;
    at = writeVarint(out, at, len);
    at = copyPayload(out, at, payload, len);
  }
  return at;
}

/**
 * One frame of most: no message, a type and a status of one byte, a body
 * under TWO_BYTES. The same bytes as the general path of writeResponses,
 * in fewer steps (`frame` and `n` only name it in an error).
 */
function writeShort(
  out: Uint8Array,
  at: number,
  id: number,
  type: number,
  status: number,
  payload: Uint8Array,
  frame: number,
  n: number,
): number {
  const len = payload.length;
  const body = (id === 0 ? 0 : 1 + varintSize(id)) + (type === 0 ? 0 : 2) +
    (status === 0 ? 0 : 2) + (len === 0 ? 0 : (len < ONE_BYTE ? 2 : 3) + len);
  const size = (body < ONE_BYTE ? 1 : 2) + body;
  if (at + size > out.length) noRoom(frame, n, size, at, out);
  at = writeVarint(out, at, body);
  if (id !== 0) {
    out[at++] = TAG_ID;
    at = writeVarint(out, at, id);
  }
  if (type !== 0) {
    out[at++] = TAG_TYPE;
    out[at++] = type;
  }
  if (status !== 0) {
    out[at++] = TAG_STATUS;
    out[at++] = status;
  }
  if (len === 0) return at;
  out[at++] = TAG_DATA;
  at = writeVarint(out, at, len);
  return copyPayload(out, at, payload, len);
}

/** Varints below this take one byte. */
const ONE_BYTE = 0x80;
/** Varints below this take two bytes at most. */
const TWO_BYTES = 0x4000;
/** Data shorter than this leaves a body (<= 10 more bytes) under TWO_BYTES. */
const SMALL_BODY = TWO_BYTES - 16;

function copyPayload(
  out: Uint8Array,
  at: number,
  payload: Uint8Array,
  len: number,
): number {
  if (len > SMALL_PAYLOAD) out.set(payload, at);
  else for (let j = 0; j < len; j++) out[at + j] = payload[j];
  return at + len;
}

function noRoom(
  frame: number,
  n: number,
  size: number,
  at: number,
  out: Uint8Array,
): never {
  throw new RangeError(
    `No room to encode frame ${frame} of ${n} (${size} bytes) at ${at} of a ${out.length}-byte buffer: size the buffer from the frames' data and messages`,
  );
}
