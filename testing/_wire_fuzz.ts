// Test kit, internal: the generator of the wire fuzz tests. Seeded, it
// writes NanoRPC frames byte by byte, so that it can write what protobuf-es's
// BinaryWriter never would: non-minimal and 10-byte varints, ids past 32
// bits, over-long varints and tags, groups, field 0, bad UTF-8, oversize and
// partial prefixes. testing/_wire_spec.ts reads what it writes.

import { randomText, Rng } from "../wasm/_test_utils.ts";

export { Rng };
export * from "./_wire_spec.ts";

/** The seed of every fuzz test (`FUZZ_SEED` overrides it). */
export const FUZZ_SEED = Number(Deno.env.get("FUZZ_SEED") ?? 0x5eed1e55);

/** `FUZZ_CASES` when set (a longer run), else `count` (the CI run). */
export function fuzzCases(count: number): number {
  return Number(Deno.env.get("FUZZ_CASES") ?? count);
}

type Out = number[];

/** Up to `most` - 1 offsets in `[0, length]`, sorted: where to cut reads. */
export function randomCuts(rng: Rng, length: number, most: number): number[] {
  return Array.from({ length: rng.int(most) }, () => rng.int(length + 1))
    .sort((a, b) => a - b);
}

/** Appends `v` (as 64 bits) as a varint, `pad` bytes longer than needed. */
export function varint(out: Out, v: bigint, pad = 0): void {
  v = BigInt.asUintN(64, v);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  if (pad === 0) return void out.push(Number(v));
  out.push(Number(v) | 0x80);
  for (let i = 1; i < pad; i++) out.push(0x80);
  out.push(0);
}

function varintSize(v: bigint): number {
  let n = 1;
  for (v = BigInt.asUintN(64, v); v >= 0x80n; v >>= 7n) n++;
  return n;
}

/** A padding that keeps a varint of `v` within `most` bytes, often 0. */
function pad(rng: Rng, v: bigint, most: number): number {
  const room = most - varintSize(v);
  return room > 0 && rng.chance(0.12) ? rng.range(1, room) : 0;
}

function tag(rng: Rng, out: Out, no: number, wt: number): void {
  const t = BigInt(no) * 8n + BigInt(wt);
  varint(out, t, pad(rng, t, 5));
}

/** Field numbers neither message declares: 1-4 and 10 are known. */
const UNKNOWN_NUMBERS = [5, 6, 9, 11, 15, 16, 2047, 2048, 536870911];

function unknownNo(rng: Rng): number {
  return rng.chance(0.7) ? rng.pick(UNKNOWN_NUMBERS) : rng.range(11, 536870911);
}

/** What an int32 or enum field may carry: ids to 2^32-1, past 32 bits. */
function int32Value(rng: Rng): bigint {
  switch (rng.int(6)) {
    case 0:
      return BigInt(rng.int(200));
    case 1:
      return BigInt(
        rng.pick([0, 1, 127, 128, 16384, 2 ** 31 - 1, -1, -(2 ** 31)]),
      );
    case 2:
      return BigInt(rng.u32() | 0); // Negative ones take 10 bytes.
    case 3:
      return BigInt(rng.u32()); // As uint32: 5 bytes, a negative int32.
    case 4:
      return (BigInt(rng.u32()) << BigInt(rng.range(1, 31))) | 1n;
    default:
      return (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
  }
}

function text(rng: Rng): Uint8Array {
  let s = rng.chance(0.15) ? "\uFEFF" : ""; // Text, not a byte-order mark.
  s += rng.chance(0.1) ? "/".repeat(rng.range(100, 300)) : randomText(rng, 20);
  return new TextEncoder().encode(s);
}

function bytesField(rng: Rng, out: Out, no: number, value: Uint8Array): void {
  tag(rng, out, no, 2);
  const n = BigInt(value.length);
  varint(out, n, pad(rng, n, 10));
  for (const b of value) out.push(b);
}

function data(rng: Rng): Uint8Array {
  const n = rng.chance(0.8)
    ? rng.int(64)
    : rng.chance(0.9)
    ? rng.range(100, 3000)
    : rng.range(65536, 70000);
  return rng.bytes(n);
}

/** One valid field: a known one (either message's) or an unknown one. */
function validField(rng: Rng, out: Out): void {
  const k = rng.int(8);
  if (k <= 2) {
    tag(rng, out, k + 1, 0);
    const v = k === 2 && rng.chance(0.5) ? BigInt(rng.u32()) : int32Value(rng);
    varint(out, v, pad(rng, v, 10));
  } else if (k === 3) bytesField(rng, out, 4, text(rng));
  else if (k === 4) bytesField(rng, out, 10, data(rng));
  else unknownField(rng, out, rng.pick([0, 1, 2, 5]));
}

/** A value of wire type `wt` (groups and 6, 7 have none of their own). */
function payload(rng: Rng, out: Out, wt: number): void {
  if (wt === 0) {
    const v = int32Value(rng);
    varint(out, v, pad(rng, v, 10));
  } else if (wt === 2) {
    const n = BigInt(rng.int(20));
    varint(out, n, pad(rng, n, 10));
    for (const b of rng.bytes(Number(n))) out.push(b);
  } else if (wt === 1 || wt === 5) {
    for (const b of rng.bytes(wt === 1 ? 8 : 4)) out.push(b);
  }
}

function unknownField(rng: Rng, out: Out, wt: number, no = unknownNo(rng)) {
  tag(rng, out, no, wt);
  payload(rng, out, wt);
}

/** The known fields and their wire types (both messages share them). */
const KNOWN: readonly [number, number][] = [
  [1, 0],
  [2, 0],
  [3, 0],
  [4, 2],
  [10, 2],
];

/** Bytes that are not UTF-8: overlong, surrogate, past U+10FFFF, cut. */
const NOT_UTF8 = [
  [0xc0, 0x80],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xff],
  [0x80],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
];

/**
 * Damage to a body: each writes one bad field. The `end` ones only make
 * sense as the body's last bytes (they claim bytes that are not there).
 */
const DAMAGE: Record<string, { end?: true; write(rng: Rng, out: Out): void }> =
  {
    "truncated varint": {
      end: true,
      write(rng, out) {
        const k = rng.int(4);
        if (k === 0) tag(rng, out, rng.range(1, 3), 0);
        else if (k === 1) tag(rng, out, unknownNo(rng), 0);
        else if (k === 2) tag(rng, out, rng.pick([4, 10, 7]), 2);
        for (let i = rng.range(1, k === 3 ? 4 : 9); i > 0; i--) {
          out.push(0x80 | rng.int(128));
        }
      },
    },
    "length past the end": {
      end: true,
      write(rng, out) {
        tag(rng, out, rng.pick([4, 10, unknownNo(rng)]), 2);
        const have = rng.int(8);
        varint(out, BigInt(have + rng.range(1, 300)));
        for (let i = 0; i < have; i++) out.push(0x61);
      },
    },
    "length of 2^32 or more": {
      write(rng, out) {
        tag(rng, out, rng.pick([4, 10, unknownNo(rng)]), 2);
        const n = rng.int(6);
        varint(out, (BigInt(rng.range(1, 1 << 20)) << 32n) | BigInt(n));
        for (let i = 0; i < n; i++) out.push(0x61);
      },
    },
    "wrong wire type": {
      write(rng, out) {
        const [no, right] = rng.pick(KNOWN);
        let wt = rng.int(8);
        if (wt === right) wt = (wt + rng.range(1, 7)) % 8;
        tag(rng, out, no, wt);
        payload(rng, out, wt);
      },
    },
    "group": {
      write(rng, out) {
        const no = unknownNo(rng);
        tag(rng, out, no, 3);
        for (let i = rng.int(3); i > 0; i--) {
          if (rng.chance(0.2)) this.write(rng, out);
          else unknownField(rng, out, rng.pick([0, 1, 2, 5]));
        }
        tag(rng, out, rng.chance(0.8) ? no : unknownNo(rng), 4);
      },
    },
    "end group": { write: (rng, out) => tag(rng, out, unknownNo(rng), 4) },
    "wire type 6 or 7": {
      write: (rng, out) => unknownField(rng, out, rng.range(6, 7)),
    },
    "field 0": {
      write(rng, out) {
        const wt = rng.pick([0, 1, 2, 5, 3]);
        tag(rng, out, 0, wt);
        payload(rng, out, wt);
      },
    },
    "varint over 10 bytes": {
      write(rng, out) {
        const k = rng.int(4);
        if (k === 0) tag(rng, out, rng.range(1, 3), 0);
        else if (k === 1) tag(rng, out, unknownNo(rng), 0);
        else if (k === 2) tag(rng, out, rng.pick([4, 10, unknownNo(rng)]), 2);
        for (let i = rng.range(10, 12); i > 0; i--) out.push(0x80 | rng.int(2));
        out.push(rng.int(2));
      },
    },
    "tag over 32 bits": {
      write(rng, out) {
        if (rng.chance(0.5)) {
          // Five bytes whose last holds more than the top 4 bits of 32.
          out.push(
            0x80 | rng.int(128),
            0x80,
            0x80,
            0x80,
            rng.range(0x10, 0x7f),
          );
        } else {
          // Field 1 as a varint in 6 to 10 bytes: a small value, too long.
          varint(out, 8n, rng.range(5, 9));
        }
        payload(rng, out, 0);
      },
    },
    "invalid UTF-8": {
      write(rng, out) {
        const bad = [
          ...text(rng).subarray(0, 3),
          ...rng.pick(NOT_UTF8),
          ...(rng.chance(0.5) ? [0x2f] : []),
        ];
        bytesField(rng, out, 4, new Uint8Array(bad));
      },
    },
  };

/** Names of the body damages, for counting which ones a run met. */
export const BODY_DAMAGES: readonly string[] = [
  ...Object.keys(DAMAGE),
  "random byte",
];

/** Options of {@link fuzzBody}. */
export interface BodyOptions {
  /** Chance of one damage (default 0.4). */
  damage?: number;
  /** Largest number of fields (default 10). */
  fields?: number;
}

/** A random body: valid fields in any order, sometimes one damage. */
export function fuzzBody(
  rng: Rng,
  options: BodyOptions = {},
): { body: Uint8Array; damage?: string } {
  const fields: Out[] = [];
  for (let i = rng.int((options.fields ?? 10) + 1); i > 0; i--) {
    const out: Out = [];
    validField(rng, out);
    fields.push(out);
  }
  let damage: string | undefined;
  if (rng.chance(options.damage ?? 0.4)) {
    damage = rng.pick(BODY_DAMAGES);
    if (damage !== "random byte") {
      const { end, write } = DAMAGE[damage];
      const out: Out = [];
      write.call(DAMAGE[damage], rng, out);
      fields.splice(end ? fields.length : rng.int(fields.length + 1), 0, out);
    }
  }
  const body = new Uint8Array(fields.flat());
  if (damage === "random byte" && body.length > 0) {
    body[rng.int(body.length)] = rng.int(256);
  }
  return { body, damage };
}

/** Names of the stream damages. */
export const STREAM_DAMAGES: readonly string[] = [
  "prefix over max",
  "prefix at max",
  "prefix over 10 bytes",
  "prefix of 2^32 or more",
  "partial prefix over max",
  "cut",
];

/** A stream of frames and the `maxMessageSize` to decode it with. */
export interface FuzzStream {
  input: Uint8Array;
  max: number;
  bodies: Uint8Array[];
  damage: string[];
}

/** 1 to 6 frames of {@link fuzzBody}, sometimes with a framing damage. */
export function fuzzStream(rng: Rng, options: BodyOptions = {}): FuzzStream {
  const bodies: Uint8Array[] = [];
  const damage: string[] = [];
  for (let i = rng.range(1, 6); i > 0; i--) {
    const b = fuzzBody(rng, options);
    bodies.push(b.body);
    if (b.damage) damage.push(b.damage);
  }
  const sizes = bodies.map((b) => BigInt(b.length));
  const pads = sizes.map((n) => pad(rng, n, 10));
  let max = 1 << 20;
  let tail: Out = [];
  let cut = -1;
  if (options.damage !== 0 && rng.chance(0.3)) {
    const kind = rng.pick(STREAM_DAMAGES);
    damage.push(kind);
    const i = rng.int(bodies.length);
    if (kind === "prefix over max") max = Math.max(0, bodies[i].length - 1);
    else if (kind === "prefix at max") {
      max = Math.max(...bodies.map((b) => b.length));
    } else if (kind === "prefix over 10 bytes") {
      pads[i] = 11 - varintSize(sizes[i]);
    } else if (kind === "prefix of 2^32 or more") {
      sizes[i] |= BigInt(rng.range(1, 255)) << 32n;
    } else if (kind === "partial prefix over max") tail = [0xff, 0xff, 0xff];
    else cut = rng.next();
  }
  const out: Out = [];
  bodies.forEach((b, i) => {
    varint(out, sizes[i], pads[i]);
    for (const x of b) out.push(x);
  });
  out.push(...tail);
  const input = new Uint8Array(out);
  return {
    input: cut < 0 ? input : input.subarray(0, Math.floor(cut * input.length)),
    max,
    bodies,
    damage,
  };
}
