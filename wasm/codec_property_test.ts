// Property-based tests of the codec (fast-check), with protobuf-es as the
// oracle: valid messages round-trip, and any mutation or truncation of
// valid frames is either decoded exactly as protobuf-es decodes it or
// rejected with one of the codec's reason codes: never a throw, never an
// offset outside the input, never a hang.
//
// Runs use a fixed seed (override with FC_SEED=<n>) so failures reproduce.

import assert from "node:assert/strict";
import fc from "fast-check";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  codec,
  MALFORMED_REASONS,
  MalformedReason,
  PATH_STRING,
} from "./codec.ts";
import {
  concat,
  decodeRequests,
  expectedRequest,
  expectedResponse,
  frame,
  fromBinary,
  header,
  NanoRPCRequestSchema,
  NanoRPCResponseSchema,
  offsetsInBounds,
  responseEntries,
  withoutFrame,
} from "./_test_utils.ts";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";

const SEED = Number(Deno.env.get("FC_SEED") ?? 0x5eed);
const MAX = 4096;

type Field =
  | { k: "varint"; no: number; v: number }
  | { k: "string"; no: number; v: string }
  | { k: "bytes"; no: number; v: Uint8Array }
  | { k: "unknown"; no: number; wt: number; v: bigint; b: Uint8Array };

const int32 = fc.integer({ min: -2147483648, max: 2147483647 });
const fieldArb: fc.Arbitrary<Field> = fc.oneof(
  fc.record({
    k: fc.constant("varint" as const),
    no: fc.constantFrom(1, 2, 3),
    v: int32,
  }),
  fc.record({
    k: fc.constant("string" as const),
    no: fc.constant(4),
    v: fc.string({ unit: "binary", maxLength: 16 }),
  }),
  fc.record({
    k: fc.constant("bytes" as const),
    no: fc.constant(10),
    v: fc.uint8Array({ maxLength: 48 }),
  }),
  fc.record({
    k: fc.constant("unknown" as const),
    no: fc.integer({ min: 5, max: 536870911 }).filter((n) => n !== 10),
    wt: fc.constantFrom(0, 1, 2, 5),
    v: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    b: fc.uint8Array({ maxLength: 24 }),
  }),
);

/** A valid body: any fields in any order, repeated or unknown. */
const bodyArb = fc.array(fieldArb, { maxLength: 10 }).map((fields) => {
  const w = new BinaryWriter();
  for (const f of fields) {
    if (f.k === "varint") w.tag(f.no, WireType.Varint).int32(f.v);
    else if (f.k === "string") {
      w.tag(f.no, WireType.LengthDelimited).string(f.v);
    } else if (f.k === "bytes") {
      w.tag(f.no, WireType.LengthDelimited).bytes(f.v);
    } else if (f.wt === 0) w.tag(f.no, WireType.Varint).uint64(f.v);
    else if (f.wt === 1) w.tag(f.no, WireType.Bit64).fixed64(f.v);
    else if (f.wt === 5) {
      w.tag(f.no, WireType.Bit32).fixed32(Number(f.v & 0xffffffffn));
    } else w.tag(f.no, WireType.LengthDelimited).bytes(f.b);
  }
  return w.finish();
});

const streamArb = fc.array(bodyArb, { minLength: 1, maxLength: 8 })
  .map((bodies) => concat(bodies.map(frame)));

type Mutation =
  | { op: "set"; at: number; byte: number }
  | { op: "xor"; at: number; mask: number }
  | { op: "insert"; at: number; bytes: Uint8Array }
  | { op: "delete"; at: number; n: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    op: fc.constant("set" as const),
    at: fc.nat(),
    byte: fc.oneof(fc.constantFrom(0x00, 0x7f, 0x80, 0xff), fc.nat(255)),
  }),
  // Low bits flip a tag's wire type; 0x80 flips a varint's continuation.
  fc.record({
    op: fc.constant("xor" as const),
    at: fc.nat(),
    mask: fc.constantFrom(1, 2, 3, 4, 5, 6, 7, 0x80),
  }),
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }),
  }),
  fc.record({
    op: fc.constant("delete" as const),
    at: fc.nat(),
    n: fc.integer({ min: 1, max: 8 }),
  }),
);

function mutate(
  input: Uint8Array,
  mutations: Mutation[],
  cut: number | null,
): Uint8Array {
  let b = input;
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    if ((m.op === "set" || m.op === "xor") && at < b.length) {
      b = b.slice();
      b[at] = m.op === "set" ? m.byte : b[at] ^ m.mask;
    } else if (m.op === "insert") {
      b = concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    } else if (m.op === "delete") {
      b = concat([b.subarray(0, at), b.subarray(at + m.n)]);
    }
  }
  return cut === null ? b : b.subarray(0, cut % (b.length + 1));
}

/**
 * Reads a varint as a bigint; -1n when over 10 bytes. When the bytes run
 * out, `next` is -1 and `v` holds the bits read so far.
 */
function varint(b: Uint8Array, at: number): { v: bigint; next: number } {
  let v = 0n;
  for (let i = 0; i < 10; i++) {
    if (at + i >= b.length) return { v, next: -1 };
    v |= BigInt(b[at + i] & 0x7f) << BigInt(7 * i);
    if (b[at + i] < 0x80) return { v, next: at + i + 1 };
  }
  return { v: -1n, next: at + 10 };
}

const {
  WRONG_WIRE_TYPE,
  BAD_WIRE_TYPE,
  VARINT_TOO_LONG,
  TRUNCATED,
  FRAME_TOO_LARGE,
} = MalformedReason;

/**
 * For a body protobuf-es accepted: the reason the codec deliberately
 * rejects it anyway, or 0. These are the only documented differences:
 * a known field with the wrong wire type (protobuf-es reads it by its
 * schema type), a group (wire types 3 and 4 are malformed), an
 * unknown varint over 10 bytes (protobuf-es skips any length), and a
 * length of 2^32 or more (protobuf-es keeps only its low 32 bits).
 */
function deliberateRejection(b: Uint8Array): number {
  let at = 0;
  while (at < b.length) {
    const tag = varint(b, at);
    const no = Number(tag.v >> 3n);
    const wt = Number(tag.v & 7n);
    at = tag.next;
    const expected = no <= 3 ? 0 : no === 4 || no === 10 ? 2 : -1;
    if (expected >= 0 && wt !== expected) return WRONG_WIRE_TYPE;
    if (wt === 3) return BAD_WIRE_TYPE;
    if (wt === 0) {
      const v = varint(b, at);
      if (v.v < 0n) return VARINT_TOO_LONG;
      at = v.next;
    } else if (wt === 2) {
      const len = varint(b, at);
      if (len.v >= 1n << 32n) return TRUNCATED;
      at = len.next + Number(len.v);
    } else {
      at += wt === 1 ? 8 : 4;
    }
  }
  return 0;
}

type Kind = "requests" | "responses";

/** Decodes `input` and checks every frame against protobuf-es. */
function checkAgainstOracle(input: Uint8Array, kind: Kind): void {
  const schema = kind === "requests"
    ? NanoRPCRequestSchema
    : NanoRPCResponseSchema;
  const count = kind === "requests"
    ? codec.decodeRequests(input, MAX)
    : codec.decodeResponses(input, MAX);
  const h = header();
  assert.ok(
    offsetsInBounds(input.length, kind === "responses"),
    "offset out of bounds",
  );
  assert.ok(h.consumed >= 0 && h.consumed <= input.length);
  assert.ok(h.error >= 0 && h.error < MALFORMED_REASONS.length);
  const entries = kind === "requests"
    ? decodeRequests(input, MAX).entries.map(withoutFrame)
    : responseEntries(input);

  let at = 0;
  let frames = 0;
  const stop = (error: number, need: number, why: string) => {
    assert.equal(count, frames, why);
    assert.equal(h.consumed, at, why);
    if (error === -1) {
      assert.ok(h.error > 0, `${why}: expected a rejection`);
    } else {
      assert.equal(h.error, error, why);
    }
    assert.equal(h.need, need, why);
  };
  while (at < input.length) {
    const prefix = varint(input, at);
    if (prefix.next < 0) {
      // Later bytes only add higher bits: a partial claim over the limit
      // is refused at once.
      return prefix.v > BigInt(MAX)
        ? stop(FRAME_TOO_LARGE, 0, "incomplete prefix over max")
        : stop(0, 0, "incomplete prefix");
    }
    if (prefix.v < 0n) return stop(VARINT_TOO_LONG, 0, "prefix over 10 bytes");
    if (prefix.v > BigInt(MAX)) {
      return stop(FRAME_TOO_LARGE, 0, "prefix over max");
    }
    const end = prefix.next + Number(prefix.v);
    if (end > input.length) return stop(0, end - at, "partial frame");
    const body = input.subarray(prefix.next, end);
    let msg;
    try {
      msg = fromBinary(schema, body);
    } catch {
      return stop(-1, 0, "protobuf-es rejects the frame");
    }
    const deliberate = deliberateRejection(body);
    if (deliberate) return stop(deliberate, 0, "documented stricter rule");
    const expected = kind === "requests"
      ? expectedRequest(
        msg as ReturnType<typeof fromBinary<typeof NanoRPCRequestSchema>>,
      )
      : expectedResponse(
        msg as ReturnType<typeof fromBinary<typeof NanoRPCResponseSchema>>,
      );
    assert.deepEqual(entries[frames], expected, `frame ${frames}`);
    frames++;
    at = end;
  }
  stop(0, 0, "whole input");
}

const params = (numRuns: number) => ({ seed: SEED, numRuns });

Deno.test("decodeRequests matches protobuf-es on random valid frames", () => {
  fc.assert(
    fc.property(streamArb, (input) => checkAgainstOracle(input, "requests")),
    params(400),
  );
});

Deno.test("decodeRequests then encodeRequests round-trips random messages byte for byte", () => {
  fc.assert(
    fc.property(fc.array(bodyArb, { minLength: 1, maxLength: 8 }), (bodies) => {
      // The codec drops unknown fields; so must the canonical encoding.
      const msgs = bodies.map((b) =>
        fromBinary(NanoRPCRequestSchema, b, { readUnknownFields: false })
      );
      const canonical = concat(
        msgs.map((m) => sizeDelimitedEncode(NanoRPCRequestSchema, m)),
      );
      const input = concat(bodies.map(frame));
      const r = decodeRequests(input, MAX);
      assert.equal(r.count, bodies.length);
      const e = r.entries;
      const again = codec.encodeRequests(
        e.flatMap((x) => [x.id, x.type, x.kind, x.hash]),
        e.map((x) => x.kind === PATH_STRING ? x.path : undefined),
        e.map((x) => x.data),
        e.length,
      );
      assert.deepEqual(again, canonical);
    }),
    params(300),
  );
});

Deno.test("decodeRequests decodes or rejects mutated and truncated frames as protobuf-es allows", () => {
  fc.assert(
    fc.property(
      streamArb,
      fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
      fc.option(fc.nat(), { nil: null }),
      (input, mutations, cut) =>
        checkAgainstOracle(mutate(input, mutations, cut), "requests"),
    ),
    params(5000),
  );
});

Deno.test("decodeRequests decodes or rejects frames with mutated bodies as protobuf-es allows", () => {
  // The prefix stays true to the mutated body, so every frame is complete
  // and the field decoder, not the framing, meets the damage.
  fc.assert(
    fc.property(
      fc.array(bodyArb, { minLength: 1, maxLength: 4 }),
      fc.nat(),
      fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
      (bodies, which, mutations) => {
        const i = which % bodies.length;
        const damaged = bodies.map((b, k) =>
          k === i ? mutate(b, mutations, null) : b
        );
        checkAgainstOracle(concat(damaged.map(frame)), "requests");
      },
    ),
    params(8000),
  );
});

Deno.test("decodeResponses decodes or rejects mutated and truncated frames as protobuf-es allows", () => {
  fc.assert(
    fc.property(
      streamArb,
      fc.array(mutationArb, { maxLength: 4 }),
      fc.option(fc.nat(), { nil: null }),
      (input, mutations, cut) =>
        checkAgainstOracle(mutate(input, mutations, cut), "responses"),
    ),
    params(3000),
  );
});

Deno.test("decodeRequests decodes or rejects random garbage as protobuf-es allows", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      (input) => checkAgainstOracle(input, "requests"),
    ),
    params(2000),
  );
});
