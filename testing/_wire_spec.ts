// Test kit, internal: the reference reader of the wire fuzz tests. It
// reads frames by the rules of DESIGN §2 and README "Protocol", written out
// plainly and sharing no code with the codec: the reference the codecs must
// match exactly (wasm/codec_fuzz_test.ts), and that must itself match
// protobuf-es `fromBinary` except where a rule it names (`Refusal.rule`) is
// documented to be stricter than protobuf-es (README: "A malformed frame").

import {
  MalformedReason,
  PATH_HASH,
  PATH_NONE,
  PATH_STRING,
} from "../wasm/codec.ts";
import { MAX_FRAMES } from "../wasm/layout.ts";

const {
  VARINT_TOO_LONG,
  FRAME_TOO_LARGE,
  TRUNCATED,
  INVALID_UTF8,
  BAD_WIRE_TYPE,
  BAD_TAG,
  WRONG_WIRE_TYPE,
} = MalformedReason;

/** Wire types of the known fields, both messages: 1-3 varints, 4, 10 bytes. */
const KNOWN = new Map([[1, 0], [2, 0], [3, 0], [4, 2], [10, 2]]);

/** Why `specFrames` refused a frame, and the rule, if protobuf-es lacks it. */
export class Refusal {
  constructor(readonly reason: number, readonly rule?: string) {}
}

/** A message's fields as the spec reads them; field 3 by both meanings. */
export interface SpecFields {
  id: number;
  type: number;
  /** Request: which path form won (PATH_NONE, PATH_HASH, PATH_STRING). */
  kind: number;
  /** Request: the path hash, sent or computed. */
  hash: number;
  /** Response: the status. */
  status: number;
  /** Request: the path (the last path_hash clears it). */
  path: Uint8Array;
  /** Response: the message. */
  message: Uint8Array;
  data: Uint8Array;
}

const EMPTY = new Uint8Array(0);
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** FNV-1a 32-bit, written again here: the spec shares no code with us. */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

function validUtf8(bytes: Uint8Array): boolean {
  try {
    strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads one body by the rules: fields in any order, the last one wins,
 * unknown fields of wire types 0, 1, 2, 5 skipped; malformed as README
 * lists it. Throws a {@link Refusal}; `rule` names the documented
 * strictness protobuf-es does not share, where one applies.
 */
export function specBody(b: Uint8Array): SpecFields {
  const f: SpecFields = {
    id: 0,
    type: 0,
    kind: PATH_NONE,
    hash: 0,
    status: 0,
    path: EMPTY,
    message: EMPTY,
    data: EMPTY,
  };
  let pos = 0;
  const read = (rule?: string): bigint => {
    let v = 0n;
    for (let i = 0; i < 10; i++) {
      if (pos >= b.length) throw new Refusal(TRUNCATED);
      const byte = b[pos++];
      v |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if (byte < 0x80) return BigInt.asUintN(64, v);
    }
    throw new Refusal(VARINT_TOO_LONG, rule);
  };
  const bytes = (): Uint8Array => {
    const n = read();
    if (n > BigInt(b.length - pos)) {
      throw new Refusal(
        TRUNCATED,
        n >= 1n << 32n ? "length of 2^32 or more" : undefined,
      );
    }
    pos += Number(n);
    return b.subarray(pos - Number(n), pos);
  };
  const skip = (n: number) => {
    if (b.length - pos < n) throw new Refusal(TRUNCATED);
    pos += n;
  };
  while (pos < b.length) {
    const start = pos;
    const t = read();
    if (pos - start > 5 || t > 0xffffffffn || t < 8n) {
      throw new Refusal(BAD_TAG);
    }
    const no = Number(t >> 3n);
    const wt = Number(t & 7n);
    const known = KNOWN.get(no);
    if (known !== undefined && known !== wt) {
      throw new Refusal(WRONG_WIRE_TYPE, "known field with another wire type");
    }
    if (no === 1) f.id = Number(BigInt.asIntN(32, read()));
    else if (no === 2) f.type = Number(BigInt.asIntN(32, read()));
    else if (no === 3) {
      const v = read();
      f.status = Number(BigInt.asIntN(32, v));
      f.hash = Number(BigInt.asUintN(32, v));
      f.kind = PATH_HASH;
      f.path = EMPTY;
    } else if (no === 4) {
      const text = bytes();
      if (!validUtf8(text)) throw new Refusal(INVALID_UTF8);
      f.path = f.message = text;
      f.kind = PATH_STRING;
      f.hash = fnv1a(text);
    } else if (no === 10) f.data = bytes();
    else if (wt === 0) read("unknown varint over 10 bytes");
    else if (wt === 1) skip(8);
    else if (wt === 2) bytes();
    else if (wt === 5) skip(4);
    else throw new Refusal(BAD_WIRE_TYPE, wt === 3 ? "group" : undefined);
  }
  return f;
}

/** A frame `specFrames` accepted. */
export interface SpecFrame {
  start: number;
  end: number;
  body: Uint8Array;
  fields: SpecFields;
}

/** What a decode call should report for an input: the codec's header. */
export interface SpecResult {
  frames: SpecFrame[];
  consumed: number;
  error: number;
  errorAt: number;
  need: number;
  /** The body of the refused frame, when a body was refused. */
  refusedBody?: Uint8Array;
  refusal?: Refusal;
}

/**
 * Splits `input` into frames as DESIGN §2 says (a varint prefix of at most
 * 10 bytes and at most `max`; a partial prefix that already claims more is
 * refused at once) and reads each with {@link specBody}.
 */
export function specFrames(input: Uint8Array, max: number): SpecResult {
  const r: SpecResult = {
    frames: [],
    consumed: 0,
    error: 0,
    errorAt: 0,
    need: 0,
  };
  const refuse = (reason: number) => {
    r.error = reason;
    r.errorAt = r.consumed;
    return r;
  };
  while (r.consumed < input.length && r.frames.length < MAX_FRAMES) {
    const at = r.consumed;
    let v = 0n;
    let i = 0;
    let complete = false;
    while (i < 10 && at + i < input.length) {
      const byte = input[at + i++];
      v |= BigInt(byte & 0x7f) << BigInt(7 * (i - 1));
      if (byte < 0x80) {
        complete = true;
        break;
      }
    }
    if (!complete && i === 10) return refuse(VARINT_TOO_LONG);
    v = BigInt.asUintN(64, v);
    if (v > BigInt(max)) return refuse(FRAME_TOO_LARGE);
    if (!complete) return r;
    const end = at + i + Number(v);
    if (end > input.length) {
      r.need = end - at;
      return r;
    }
    const body = input.subarray(at + i, end);
    try {
      r.frames.push({ start: at, end, body, fields: specBody(body) });
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      r.refusedBody = body;
      r.refusal = err;
      return refuse(err.reason);
    }
    r.consumed = end;
  }
  return r;
}
