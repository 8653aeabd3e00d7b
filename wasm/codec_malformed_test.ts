// Malformed input (README, "Protocol"): every case is rejected with its own reason
// code, at the offending frame, after the good frames before it.

import assert from "node:assert/strict";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { MALFORMED_REASONS, MalformedReason } from "./codec.ts";
import {
  concat,
  decodeRequests,
  frame,
  fromBinary,
  NanoRPCRequestSchema,
} from "./_test_utils.ts";

const {
  VARINT_TOO_LONG,
  FRAME_TOO_LARGE,
  TRUNCATED,
  INVALID_UTF8,
  BAD_WIRE_TYPE,
  BAD_TAG,
  WRONG_WIRE_TYPE,
} = MalformedReason;

const raw = (...bytes: number[]) => new Uint8Array(bytes);

function varint(v: bigint): number[] {
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** A good frame, to surround the bad ones. */
const good = frame(
  new BinaryWriter().tag(1, WireType.Varint).int32(1).tag(
    4,
    WireType.LengthDelimited,
  ).string("/ok").finish(),
);

/** Asserts `input` yields exactly `reason` at offset `at`, and no frames. */
function assertRejected(input: Uint8Array, reason: number, at = 0): void {
  const r = decodeRequests(input);
  assert.equal(
    r.error,
    reason,
    `expected ${MALFORMED_REASONS[reason]}, got ${
      MALFORMED_REASONS[r.error] ?? r.error
    }`,
  );
  assert.equal(r.errorAt, at);
  assert.equal(r.consumed, at);
}

const bodyWithTag = (tag: number[], ...rest: number[]) =>
  frame(raw(...tag, ...rest));

Deno.test("decodeRequests rejects a varint longer than 10 bytes with VARINT_TOO_LONG", () => {
  const eleven = [...new Array(10).fill(0xff), 0x01];
  assertRejected(frame(raw(0x08, ...eleven)), VARINT_TOO_LONG); // request_id
  assertRejected(frame(raw(0x28, ...eleven)), VARINT_TOO_LONG); // unknown
  assertRejected(frame(raw(...eleven)), VARINT_TOO_LONG); // tag
  assertRejected(frame(raw(0x22, ...eleven)), VARINT_TOO_LONG); // length
  assertRejected(raw(...eleven), VARINT_TOO_LONG); // frame prefix
  // Ten continuation bytes are enough to know, even before the 11th.
  assertRejected(raw(...new Array(10).fill(0x80)), VARINT_TOO_LONG);
});

Deno.test("decodeRequests rejects a length prefix over maxMessageSize with FRAME_TOO_LARGE", () => {
  const max = 64;
  const body = new BinaryWriter().tag(10, WireType.LengthDelimited).bytes(
    new Uint8Array(max - 2),
  ).finish();
  assert.equal(body.length, max);
  let r = decodeRequests(frame(body), max);
  assert.equal(r.error, 0, "exactly maxMessageSize is allowed");
  assert.equal(r.count, 1);
  const over = concat([body, raw(0x28, 0)]);
  r = decodeRequests(frame(over), max);
  assert.equal(r.error, FRAME_TOO_LARGE);
  r = decodeRequests(frame(new Uint8Array((1 << 20) + 1)));
  assert.equal(r.error, FRAME_TOO_LARGE, "default limit is 1 MiB");
});

Deno.test("decodeRequests reports a 1 GiB or 4 GiB prefix as FRAME_TOO_LARGE from the prefix alone", () => {
  for (const size of [1n << 30n, 1n << 32n, (1n << 64n) - 1n]) {
    assertRejected(raw(...varint(size)), FRAME_TOO_LARGE);
    assertRejected(
      concat([good, raw(...varint(size))]),
      FRAME_TOO_LARGE,
      good.length,
    );
  }
});

Deno.test("decodeRequests waits for the rest of an incomplete length prefix", () => {
  const r = decodeRequests(concat([good, raw(0x80, 0x80, 0x80)]));
  assert.equal(r.error, 0);
  assert.equal(r.count, 1);
  assert.equal(r.consumed, good.length);
  assert.equal(r.need, 0);
});

Deno.test("decodeRequests refuses an incomplete prefix that already claims too much", () => {
  // 0xff 0xff 0xff claims at least 2^21 - 1 bytes, whatever follows.
  assertRejected(
    concat([good, raw(0xff, 0xff, 0xff)]),
    FRAME_TOO_LARGE,
    good.length,
  );
  // Every byte but the last of a claim of 4 GiB - 1 is enough.
  const claim = varint((1n << 32n) - 1n);
  assertRejected(raw(...claim.slice(0, -1)), FRAME_TOO_LARGE);
  // Under the limit so far: keep waiting.
  assert.equal(decodeRequests(raw(0xff, 0xff), 1 << 20).error, 0);
  assert.equal(decodeRequests(raw(0xff, 0xff, 0xff), 1 << 22).error, 0);
});

Deno.test("decodeRequests rejects a field length past the frame end with TRUNCATED", () => {
  const cases: [string, number[]][] = [
    ["path longer than the frame", [0x22, 5, 0x61, 0x62]],
    ["data longer than the frame", [0x52, 3, 1, 2]],
    ["unknown bytes longer than the frame", [0x2a, 10]],
    ["length of 2^32", [0x52, ...varint(1n << 32n)]],
    ["fixed64 cut short", [0x29, 1, 2, 3, 4, 5, 6, 7]],
    ["fixed32 cut short", [0x2d, 1, 2, 3]],
    ["varint value cut short", [0x08, 0x80]],
    ["value missing", [0x08]],
    ["tag cut short", [0x80]],
  ];
  for (const [name, bytes] of cases) {
    const bad = frame(raw(...bytes));
    // The next frame's bytes follow: the decoder must not read into them.
    const input = concat([good, bad, good]);
    const r = decodeRequests(input);
    assert.equal(r.error, TRUNCATED, name);
    assert.equal(r.errorAt, good.length, name);
    assert.equal(r.count, 1, name);
  }
});

Deno.test("decodeRequests rejects wire types 3, 4, 6 and 7 with BAD_WIRE_TYPE", () => {
  for (const wt of [3, 4, 6, 7]) {
    assertRejected(bodyWithTag([(5 << 3) | wt], 0, 0, 0, 0), BAD_WIRE_TYPE);
    assertRejected(
      bodyWithTag(varint(BigInt((1000 << 3) | wt)), 0),
      BAD_WIRE_TYPE,
    );
  }
  // protobuf-es skips groups; the codec deliberately does not (wire types 3 and 4 are malformed).
  const group = raw((5 << 3) | 3, 0x08, 1, (5 << 3) | 4);
  assert.doesNotThrow(() => fromBinary(NanoRPCRequestSchema, group));
  assertRejected(frame(group), BAD_WIRE_TYPE);
});

Deno.test("decodeRequests rejects a known field sent with the wrong wire type with WRONG_WIRE_TYPE", () => {
  for (const field of [1, 2, 3, 4, 10]) {
    for (const wt of [0, 1, 2, 5]) {
      if ((field === 4 || field === 10) === (wt === 2)) continue;
      assertRejected(
        bodyWithTag(varint(BigInt((field << 3) | wt)), ...new Array(8).fill(1)),
        WRONG_WIRE_TYPE,
      );
    }
  }
});

Deno.test("decodeRequests rejects field number 0 and oversized tags with BAD_TAG", () => {
  assertRejected(bodyWithTag([0x00], 1), BAD_TAG);
  assertRejected(bodyWithTag([0x02], 0), BAD_TAG); // field 0, wire type 2
  assertRejected(bodyWithTag(varint(1n << 32n), 0), BAD_TAG);
  // Tag 8 padded to 6 bytes: protobuf-es rejects it too.
  assertRejected(bodyWithTag([0x88, 0x80, 0x80, 0x80, 0x80, 0x00], 1), BAD_TAG);
  // The largest legal field number is fine.
  const r = decodeRequests(
    bodyWithTag(varint(BigInt((536870911 << 3) >>> 0)), 0),
  );
  assert.equal(r.error, 0);
});

/** Byte sequences that are not UTF-8 (Unicode 15, table 3-7). */
const invalidUtf8: [string, number[]][] = [
  ["lone continuation byte", [0x80]],
  ["overlong 2-byte NUL", [0xc0, 0x80]],
  ["overlong 2-byte U+007F", [0xc1, 0xbf]],
  ["overlong 3-byte U+07FF", [0xe0, 0x9f, 0xbf]],
  ["overlong 3-byte NUL", [0xe0, 0x80, 0x80]],
  ["overlong 4-byte U+FFFF", [0xf0, 0x8f, 0xbf, 0xbf]],
  ["high surrogate U+D800", [0xed, 0xa0, 0x80]],
  ["low surrogate U+DFFF", [0xed, 0xbf, 0xbf]],
  ["surrogate pair in CESU-8", [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]],
  ["U+110000", [0xf4, 0x90, 0x80, 0x80]],
  ["lead byte F5", [0xf5, 0x80, 0x80, 0x80]],
  ["byte FF", [0xff]],
  ["byte FE", [0xfe]],
  ["truncated 2-byte at end", [0x61, 0xc3]],
  ["truncated 3-byte at end", [0xe2, 0x82]],
  ["truncated 4-byte at end", [0xf0, 0x9f, 0x98]],
  ["truncated 3-byte before ASCII", [0xe2, 0x82, 0x41]],
  ["continuation byte missing mid-string", [0xc3, 0x41, 0x42]],
];

Deno.test("decodeRequests rejects invalid UTF-8 in path with INVALID_UTF8", () => {
  const strict = new TextDecoder("utf-8", { fatal: true });
  for (const [name, bytes] of invalidUtf8) {
    assert.throws(() => strict.decode(raw(...bytes)), name);
    const path = raw(0x2f, ...bytes, 0x2f); // "/…/"
    const b = new BinaryWriter().tag(4, WireType.LengthDelimited).bytes(path)
      .finish();
    const input = concat([good, frame(b)]);
    const r = decodeRequests(input);
    assert.equal(r.error, INVALID_UTF8, name);
    assert.equal(r.errorAt, good.length, name);
    assert.equal(r.count, 1, name);
  }
});

Deno.test("decodeRequests still reports the frames before a malformed one", () => {
  const bad = frame(raw(0x08, ...new Array(11).fill(0xff)));
  const input = concat([good, good, good, bad, good]);
  const r = decodeRequests(input);
  assert.equal(r.count, 3);
  assert.equal(r.error, VARINT_TOO_LONG);
  assert.equal(r.errorAt, good.length * 3);
  assert.equal(r.consumed, good.length * 3);
  for (const e of r.entries) assert.deepEqual(e.path, raw(0x2f, 0x6f, 0x6b));
});

Deno.test("decodeRequests gives each malformed case its own reason code", () => {
  const cases: [number, Uint8Array][] = [
    [VARINT_TOO_LONG, frame(raw(0x08, ...new Array(11).fill(0xff)))],
    [FRAME_TOO_LARGE, raw(...varint(1n << 30n))],
    [TRUNCATED, frame(raw(0x22, 9))],
    [INVALID_UTF8, frame(raw(0x22, 1, 0xff))],
    [BAD_WIRE_TYPE, frame(raw(0x2e))],
    [BAD_TAG, frame(raw(0x00))],
    [WRONG_WIRE_TYPE, frame(raw(0x0a, 0))],
  ];
  const seen = new Set<number>();
  for (const [reason, input] of cases) {
    assertRejected(input, reason);
    assert.ok(MALFORMED_REASONS[reason].length > 0);
    seen.add(reason);
  }
  assert.equal(seen.size, Object.keys(MalformedReason).length);
  assert.equal(MALFORMED_REASONS.length, seen.size + 1);
});

Deno.test("decodeRequests clamps a maxMessageSize of 4 GiB or Infinity instead of wrapping it", () => {
  const input = concat([good, good]);
  for (const max of [2 ** 32, 2 ** 32 + 5, Infinity, 2 ** 31]) {
    const r = decodeRequests(input, max);
    assert.equal(r.error, 0, `max ${max}`);
    assert.equal(r.count, 2, `max ${max}`);
  }
  for (const max of [-1, 0, NaN]) {
    assert.equal(
      decodeRequests(input, max).error,
      FRAME_TOO_LARGE,
      `max ${max}`,
    );
  }
  // The clamp is just under 2 GiB, so a 3 GiB claim is still refused at
  // once rather than awaited with a `need` that overflows an i32.
  const r = decodeRequests(raw(...varint(3n << 30n)), Infinity);
  assert.equal(r.error, FRAME_TOO_LARGE);
});
